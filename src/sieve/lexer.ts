// Sieve's lexical grammar (RFC 5228 8.1): identifiers, tags, numbers with K/M/G, quoted strings,
// "text:" multi-line strings, the punctuation, and both kinds of comment. No I/O; bounded by the
// script's size (checked before) and by the number of tokens it may produce.
import { SieveError } from './sieve-error.ts';

export type Token =
  | { kind: 'identifier'; value: string; line: number }
  | { kind: 'tag'; value: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'string'; value: string; line: number }
  | { kind: '[' | ']' | '(' | ')' | '{' | '}' | ',' | ';'; line: number };

export interface LexLimits {
  /** Bytes of script text, UTF-8. */
  maxScriptBytes: number;
  maxTokens: number;
}

// Sticky expressions read at a position without copying the rest of the script.
const quotedRun = /[^"\\]*/y;
const tagWord = /:([A-Za-z_][A-Za-z0-9_]*)/y;
const numberWord = /([0-9]+)([KkMmGg])?/y;
const identifierWord = /[A-Za-z_][A-Za-z0-9_]*/y;

const punctuation = new Set(['[', ']', '(', ')', '{', '}', ',', ';']);
const quantifiers: Record<string, number> = { k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

export function tokenize(text: string, limits: LexLimits): Token[] {
  if (Buffer.byteLength(text) > limits.maxScriptBytes)
    throw new SieveError(`the script is larger than ${limits.maxScriptBytes} bytes`, 1);
  const tokens: Token[] = [];
  let at = 0;
  let line = 1;
  const push = (token: Token) => {
    if (tokens.length >= limits.maxTokens)
      throw new SieveError(`the script has more than ${limits.maxTokens} tokens`, line);
    tokens.push(token);
  };
  while (at < text.length) {
    const c = text[at]!;
    if (c === '\n') {
      line++;
      at++;
    } else if (c === ' ' || c === '\t' || c === '\r') at++;
    else if (c === '#') {
      const end = text.indexOf('\n', at);
      at = end < 0 ? text.length : end;
    } else if (c === '/' && text[at + 1] === '*') {
      const end = text.indexOf('*/', at + 2);
      if (end < 0) throw new SieveError('a /* comment is not closed', line);
      line += countLines(text, at, end);
      at = end + 2;
    } else if (punctuation.has(c)) {
      push({ kind: c as '[', line });
      at++;
    } else if (c === '"') {
      const start = line;
      const pieces: string[] = [];
      at++;
      for (;;) {
        quotedRun.lastIndex = at;
        const run = quotedRun.exec(text)!;
        pieces.push(run[0]);
        line += countLines(text, at, quotedRun.lastIndex);
        at = quotedRun.lastIndex;
        if (at >= text.length) throw new SieveError('a quoted string is not closed', start);
        if (text[at] === '"') break;
        // RFC 5228 2.4.2: a backslash keeps the character after it (only \" and \\ are meaningful).
        if (at + 1 >= text.length) throw new SieveError('a quoted string is not closed', start);
        pieces.push(text[at + 1]!);
        if (text[at + 1] === '\n') line++;
        at += 2;
      }
      at++;
      push({ kind: 'string', value: pieces.join('').replace(/\r?\n/g, '\r\n'), line: start });
    } else if (c === ':') {
      tagWord.lastIndex = at;
      const m = tagWord.exec(text);
      if (!m) throw new SieveError('a ":" not followed by a tag name', line);
      push({ kind: 'tag', value: m[1]!.toLowerCase(), line });
      at += m[0].length;
    } else if (c >= '0' && c <= '9') {
      numberWord.lastIndex = at;
      const m = numberWord.exec(text)!;
      const value = Number(m[1]) * (m[2] ? quantifiers[m[2].toLowerCase()]! : 1);
      // RFC 5228 2.4.1: numbers are at least 31 bits; beyond 2^53 they would not be exact.
      if (!Number.isSafeInteger(value)) throw new SieveError(`number ${m[0]} is too large`, line);
      push({ kind: 'number', value, line });
      at += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      identifierWord.lastIndex = at;
      const m = identifierWord.exec(text)!;
      const word = m[0].toLowerCase();
      at += m[0].length;
      if (word === 'text' && text[at] === ':') {
        const start = line;
        const { value, end, lines } = multiLine(text, at + 1, line);
        push({ kind: 'string', value, line: start });
        at = end;
        line += lines;
      } else push({ kind: 'identifier', value: word, line });
    } else throw new SieveError(`unexpected character ${JSON.stringify(c)}`, line);
  }
  return tokens;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** "text:" up to a line holding only ".", with dot-stuffing undone (RFC 5228 2.4.2). */
function multiLine(text: string, at: number, line: number): { value: string; end: number; lines: number } {
  const firstBreak = text.indexOf('\n', at);
  if (firstBreak < 0) throw new SieveError('a text: string is not closed', line);
  const rest = text.slice(at, firstBreak).replace(/\r$/, '');
  // Only white space or a # comment may follow "text:" on its line.
  if (!/^[ \t]*(#.*)?$/.test(rest)) throw new SieveError('text: must end its line', line);
  let pos = firstBreak + 1;
  const out: string[] = [];
  for (;;) {
    if (pos >= text.length) throw new SieveError('a text: string is not closed (no line with a single ".")', line);
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const content = text.slice(pos, end).replace(/\r$/, '');
    pos = end + 1;
    if (content === '.') break;
    out.push(content.startsWith('..') ? content.slice(1) : content);
  }
  const value = out.map((l) => `${l}\r\n`).join('');
  return { value, end: Math.min(pos, text.length), lines: countLines(text, at, Math.min(pos, text.length)) };
}
