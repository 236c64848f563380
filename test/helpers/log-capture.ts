// A pino logger that keeps every line a node writes, for tests that assert log lines as an
// administrator would grep them: pass `capture.logger` to startTestNode({ logger }).
import pino from 'pino';
import type { Logger } from '../../src/logging/logger.ts';

export type LogRecord = Record<string, unknown> & { msg: string; level: number };

export class LogCapture {
  /** The lines as written (JSON.parse would hide a key written twice). */
  readonly lines: string[] = [];
  readonly logger: Logger = pino({ level: 'info' }, { write: (line: string) => void this.lines.push(line.trimEnd()) });

  records(msg?: string): LogRecord[] {
    return this.lines.map((line) => JSON.parse(line) as LogRecord).filter((r) => msg === undefined || r.msg === msg);
  }

  /** Lines that have some key twice at their top level, with the keys. */
  duplicateKeys(): { line: string; keys: string[] }[] {
    return this.lines.map((line) => ({ line, keys: repeatedTopLevelKeys(line) })).filter((d) => d.keys.length > 0);
  }
}

function repeatedTopLevelKeys(json: string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const key = json.slice(i + 1, end);
      if (depth === 1 && json[end + 1] === ':') (seen.has(key) ? repeated : seen).add(key);
      i = end;
    }
  }
  return [...repeated];
}
