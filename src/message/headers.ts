// Reading a message's header section: unfolded fields, and capturing that section while the message
// streams past (so intake never buffers a whole message to look at its headers).
import addressparser from 'nodemailer/lib/addressparser';

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  value: string;
}

export function parseHeaderSection(section: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of section.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields.at(-1)!.value += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0)
        fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
    }
  }
  return fields;
}

/** A date as RFC 5322 writes it (section 3.3), in UTC. */
export function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}

export const headerValue = (fields: HeaderField[], name: string) => fields.find((f) => f.name === name)?.value;

/** Addresses in an address header (From, To...), lower-cased. */
/** What addressparser returns for each entry (its own typings say less). */
interface ParsedEntry {
  address?: string;
  group?: ParsedEntry[];
}

export function headerAddresses(value: string | undefined): string[] {
  if (!value) return [];
  const flatten = (list: ParsedEntry[]): string[] =>
    list.flatMap((entry) =>
      entry.group ? flatten(entry.group) : entry.address ? [String(entry.address).toLowerCase()] : [],
    );
  return flatten(addressparser(value) as ParsedEntry[]);
}

/**
 * The author addresses of a From field (RFC 5322 3.6.2: a mailbox-list, lower-cased), and whether it
 * used group syntax (`X:;`), which names no author and hides who wrote the message.
 */
export function authorsOf(value: string): { addresses: string[]; group: boolean } {
  const entries = addressparser(value) as ParsedEntry[];
  return { addresses: headerAddresses(value), group: entries.some((entry) => entry.group) };
}

/**
 * Passes chunks through unchanged while keeping the header section (up to `limit` bytes).
 * `headers()` gives the section once the stream has been consumed; `complete()` says whether it
 * fitted within the limit (if not, `headers()` holds only its first `limit` bytes, and a check of
 * its fields could miss one further down).
 */
export function captureHeaders(source: AsyncIterable<Uint8Array>, limit = 256 * 1024) {
  let collected = Buffer.alloc(0);
  let done = false;
  let truncated = false;
  let size = 0;
  async function* passThrough() {
    for await (const chunk of source) {
      size += chunk.length;
      if (!done) {
        collected = Buffer.concat([collected, chunk]);
        const end = collected.indexOf('\r\n\r\n');
        const endLf = end < 0 ? collected.indexOf('\n\n') : -1;
        if (end >= 0 || endLf >= 0) {
          collected = collected.subarray(0, end >= 0 ? end : endLf);
          done = true;
        }
        if (collected.length > limit) {
          collected = collected.subarray(0, limit);
          done = true;
          truncated = true;
        }
      }
      yield chunk;
    }
  }
  return {
    stream: passThrough(),
    headers: () => collected.toString('utf8'),
    complete: () => !truncated,
    size: () => size,
  };
}

/**
 * Passes a message on without the header fields named in `names` (lower-case), their continuation
 * lines included; the body is never looked at. The header section is held back until its end, at
 * most `limit` bytes: a longer one passes unchanged (intake refuses it for its size anyway).
 */
export async function* dropHeaderFields(
  source: AsyncIterable<Uint8Array>,
  names: ReadonlySet<string>,
  limit: number,
): AsyncIterable<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      if (head.length) yield withoutFields(head, names); // a message that is all header
      return;
    }
    head = Buffer.concat([head, next.value]);
    const end = headerSectionEnd(head);
    if (end >= 0) {
      yield withoutFields(head.subarray(0, end), names);
      yield head.subarray(end);
      break;
    }
    if (head.length > limit) {
      yield head;
      break;
    }
  }
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield Buffer.from(next.value);
}

/** Where the header section ends (after its last field's line break), or -1 if not yet seen. */
function headerSectionEnd(data: Buffer): number {
  if (data[0] === 0x0a || (data[0] === 0x0d && data[1] === 0x0a)) return 0; // no header at all
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 2;
  return lf >= 0 ? lf + 1 : -1;
}

function withoutFields(section: Buffer, names: ReadonlySet<string>): Buffer {
  // latin1 maps bytes to characters one to one, so 8-bit and UTF-8 header bytes pass unchanged.
  const lines = section.toString('latin1').split(/(?<=\n)/);
  let dropping = false;
  const kept = lines.filter((line) => {
    if (/^[ \t]/.test(line)) return !dropping;
    const colon = line.indexOf(':');
    dropping = colon > 0 && names.has(line.slice(0, colon).trim().toLowerCase());
    return !dropping;
  });
  return kept.length === lines.length ? section : Buffer.from(kept.join(''), 'latin1');
}
