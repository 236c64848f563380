// Encoding response data: atoms as they are, strings quoted when they can be and sent as literals when
// they cannot (line breaks, 8-bit text to a client that has not enabled UTF-8, long text), NIL for
// absent values, and parenthesised lists. Nothing but a literal8 ever carries NUL, which neither a
// quoted string nor a literal may hold (RFC 9051 §4.3: CHAR8 excludes %x00): a header value with one
// (a hostile Subject) has U+FFFD in its place, and a body section 0x80, as Dovecot sends them;
// BINARY content keeps its NULs in a literal8 (RFC 3516 §4.2: ~{n}).

/** Written as is: atoms, numbers, flags, response codes. */
export class Atom {
  constructor(readonly text: string) {}
}

export const atom = (text: string) => new Atom(text);

/** A multipart BODYSTRUCTURE: its parts back to back ("(...)(...)"), then the rest space-separated. */
export class Multipart {
  constructor(
    readonly parts: Value[],
    readonly rest: Value[],
  ) {}
}

/** A literal sent as it is read (a large body section): its length up front, then its chunks. */
export class StreamedLiteral {
  constructor(
    readonly length: number,
    readonly chunks: () => AsyncIterable<Buffer>,
  ) {}
}

/** Decoded content (BINARY[section]): a literal8 when it holds NUL, an ordinary literal otherwise. */
export class BinaryContent {
  constructor(readonly bytes: Buffer) {}
}

/**
 * Text with two forms: `utf8` for a client that enabled UTF-8 (IMAP4rev2 or UTF8=ACCEPT), `ascii`
 * for one that did not (an RFC 2231 parameter value: decoded for the one, as the message has it for
 * the other).
 */
export class Utf8Alternative {
  constructor(
    readonly utf8: string,
    readonly ascii: string,
  ) {}
}

export type Value =
  | Atom
  | Multipart
  | StreamedLiteral
  | BinaryContent
  | Utf8Alternative
  | string
  | Buffer
  | number
  | null
  | Value[];

export interface EncodeOptions {
  /** The client has enabled UTF8=ACCEPT (or IMAP4rev2): 8-bit text may go in quoted strings. */
  utf8: boolean;
}

/** The bytes of `value`; literals are included inline ({n} CRLF bytes), streamed ones as they are. */
export function encode(value: Value, options: EncodeOptions): (Buffer | StreamedLiteral)[] {
  const out: (Buffer | StreamedLiteral)[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  const walk = (v: Value) => {
    if (v === null) text += 'NIL';
    else if (typeof v === 'number') text += String(v);
    else if (v instanceof Atom) text += v.text;
    else if (v instanceof Utf8Alternative) walk(options.utf8 ? v.utf8 : v.ascii);
    else if (v instanceof StreamedLiteral) {
      text += `{${v.length}}\r\n`;
      flush();
      out.push(new StreamedLiteral(v.length, () => chunksWithoutNul(v.chunks())));
    } else if (v instanceof BinaryContent) {
      text += `${v.bytes.includes(0) ? '~' : ''}{${v.bytes.length}}\r\n`;
      flush();
      out.push(v.bytes);
    } else if (v instanceof Multipart) {
      text += '(';
      v.parts.forEach(walk);
      for (const item of v.rest) {
        text += ' ';
        walk(item);
      }
      text += ')';
    } else if (Array.isArray(v)) {
      text += '(';
      v.forEach((item, i) => {
        if (i) text += ' ';
        walk(item);
      });
      text += ')';
    } else if (Buffer.isBuffer(v)) {
      text += `{${v.length}}\r\n`;
      flush();
      out.push(withoutNul(v));
    } else if (v.includes('\0')) walk(v.replaceAll('\0', '\uFFFD'));
    else if (canQuote(v, options)) text += `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    else {
      const bytes = Buffer.from(v, 'utf8');
      text += `{${bytes.length}}\r\n`;
      flush();
      out.push(bytes);
    }
  };
  walk(value);
  flush();
  return out;
}

/** The bytes with each NUL as 0x80 (same length, so sizes and partial ranges stay right); the same buffer when there is none. */
function withoutNul(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes;
  const copy = Buffer.from(bytes);
  for (let i = copy.indexOf(0); i !== -1; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
  return copy;
}

async function* chunksWithoutNul(chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  for await (const chunk of chunks) yield withoutNul(chunk);
}

function canQuote(text: string, options: EncodeOptions): boolean {
  if (text.length > 1000) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 10 || code === 13) return false;
    if (code > 127 && !options.utf8) return false;
  }
  return true;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An IMAP date-time: "17-Jul-1996 02:44:25 +0000" (in UTC). */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/**
 * Parses an IMAP date-time (APPEND's date) to milliseconds, or undefined. A day the month does not
 * have (31-Feb) or a time past 23:59:59 is refused rather than carried into the next day or month
 * (Dovecot stores the append time or 13-Dec-1901 instead); second 60, a leap second, is taken as 59
 * as Dovecot takes it.
 */
export function parseDateTime(text: string): number | undefined {
  const match = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!match) return undefined;
  const month = months.findIndex((m) => m.toLowerCase() === match[2]!.toLowerCase());
  const [day, year, hour, minute, second] = [match[1], match[3], match[4], match[5], match[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (month < 0 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) return undefined;
  const offset = (Number(match[8]) * 60 + Number(match[9])) * 60_000 * (match[7] === '-' ? -1 : 1);
  return Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset;
}
