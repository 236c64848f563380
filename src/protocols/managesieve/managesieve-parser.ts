// ManageSieve's command syntax (RFC 5804 4): a command name, then atoms, numbers and strings — quoted
// ("..." with \" and \\) or literal ({n+} or {n}, a line break, then n octets, the way scripts are
// sent) — up to a line break. No I/O; bounded by the longest line and the largest literal.

export type Word =
  | { kind: 'atom'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string };

export type Parsed =
  /** A whole command, and how many bytes of the buffer it took. */
  | { kind: 'command'; words: Word[]; length: number }
  /** More bytes are needed: at least `need` in all, when a literal's size says so. */
  | { kind: 'incomplete'; need: number }
  /** A command that cannot be read; `length` bytes are dropped (to its line's end), or the connection ends (fatal). */
  | { kind: 'error'; message: string; length: number; fatal: boolean };

export interface ParseLimits {
  /** Octets of a command outside its literals. */
  maxLine: number;
  /** Octets of one literal. */
  maxLiteral: number;
}

export function parseCommand(buffer: Buffer, limits: ParseLimits): Parsed {
  const words: Word[] = [];
  let at = 0;
  let lineBytes = 0;
  const lineEnd = (from: number) => {
    const lf = buffer.indexOf(10, from);
    return lf < 0 ? -1 : lf + 1;
  };
  const fail = (message: string): Parsed => {
    const end = lineEnd(at);
    return end < 0
      ? buffer.length > limits.maxLine
        ? { kind: 'error', message, length: buffer.length, fatal: true }
        : { kind: 'incomplete', need: buffer.length + 1 }
      : { kind: 'error', message, length: end, fatal: false };
  };
  for (;;) {
    if (lineBytes > limits.maxLine)
      return {
        kind: 'error',
        message: `a command line is longer than ${limits.maxLine} octets`,
        length: buffer.length,
        fatal: true,
      };
    while (buffer[at] === 0x20) at++;
    if (at >= buffer.length) return { kind: 'incomplete', need: buffer.length + 1 };
    const c = buffer[at]!;
    if (c === 0x0d || c === 0x0a) {
      const end = c === 0x0d ? (at + 1 < buffer.length ? (buffer[at + 1] === 0x0a ? at + 2 : -2) : -1) : at + 1;
      if (end === -1) return { kind: 'incomplete', need: buffer.length + 1 };
      if (end === -2) return fail('a carriage return not followed by a line feed');
      if (words.length === 0) return { kind: 'error', message: 'an empty command', length: end, fatal: false };
      return { kind: 'command', words, length: end };
    }
    if (c === 0x22) {
      // A quoted string: on one line; \" and \\ only.
      const chars: number[] = [];
      let i = at + 1;
      for (;;) {
        if (i >= buffer.length)
          return buffer.length - at > limits.maxLine
            ? fail('a quoted string is too long')
            : { kind: 'incomplete', need: buffer.length + 1 };
        const d = buffer[i]!;
        if (d === 0x22) break;
        if (d === 0x0d || d === 0x0a) return fail('a quoted string with a line break (send it as a literal)');
        if (d === 0x5c) {
          const e = buffer[i + 1];
          if (e === undefined) return { kind: 'incomplete', need: buffer.length + 1 };
          if (e !== 0x22 && e !== 0x5c) return fail('a quoted string may escape only " and \\');
          chars.push(e);
          i += 2;
          continue;
        }
        chars.push(d);
        i++;
      }
      words.push({ kind: 'string', value: Buffer.from(chars).toString('utf8') });
      lineBytes += i + 1 - at;
      at = i + 1;
      continue;
    }
    if (c === 0x7b) {
      const m = /^\{(\d{1,10})(\+?)\}\r?\n/.exec(buffer.subarray(at, at + 16).toString('latin1'));
      if (!m) {
        if (buffer.length - at < 16 && lineEnd(at) < 0) return { kind: 'incomplete', need: buffer.length + 1 };
        return fail('a literal is written {size+} and a line break');
      }
      const size = Number(m[1]);
      if (size > limits.maxLiteral)
        return {
          kind: 'error',
          message: `a literal of ${size} octets is larger than ${limits.maxLiteral}`,
          length: buffer.length,
          fatal: true,
        };
      const start = at + m[0].length;
      if (buffer.length < start + size) return { kind: 'incomplete', need: start + size };
      words.push({ kind: 'string', value: buffer.subarray(start, start + size).toString('utf8') });
      lineBytes += m[0].length;
      at = start + size;
      continue;
    }
    let end = at;
    while (end < buffer.length && buffer[end] !== 0x20 && buffer[end] !== 0x0d && buffer[end] !== 0x0a) end++;
    if (end >= buffer.length)
      return end - at > limits.maxLine ? fail('a word is too long') : { kind: 'incomplete', need: buffer.length + 1 };
    const text = buffer.subarray(at, end).toString('latin1');
    if (/^\d{1,15}$/.test(text)) words.push({ kind: 'number', value: Number(text) });
    else if (/^[A-Za-z]+$/.test(text)) words.push({ kind: 'atom', value: text.toUpperCase() });
    else return fail(`"${text.slice(0, 40)}" is neither a command name, a number nor a string`);
    lineBytes += end - at;
    at = end;
  }
}

/** A string as the server sends it: quoted when short and simple, else a literal. */
export function encodeString(value: string): string {
  if (value.length < 1024 && !/[\r\n"\\]/.test(value)) return `"${value}"`;
  return `{${Buffer.byteLength(value)}}\r\n${value}`;
}
