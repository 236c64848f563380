// The message as a Sieve script sees it: its header fields in order (editable by editheader, RFC
// 5293), their decoded values, its size, and its body read on demand for the body test (RFC 5173).
import { decodeEncodedWords } from '../message/encoded-words.ts';
import { type MimePart, parseMimeTree } from '../message/mime-tree.ts';
import { decodeCharset, decodeTransfer } from '../message/part-content.ts';

export interface SieveField {
  /** As written. */
  name: string;
  /** Lower case. */
  key: string;
  /** The whole field as it stands in the message, folding kept, without the final line break. */
  raw: string;
}

/** The body test reads at most this much decoded text of a message (its first bytes). */
export const maxBodyTextBytes = 1024 * 1024;

export class SieveMessage {
  readonly fields: SieveField[];
  /** Whether editheader changed the fields. */
  edited = false;
  private readonly bodyStart: number;
  private tree: MimePart | undefined;

  /**
   * `source` is the message's first bytes (its header section at least, and its body when a script
   * tests it); `size` is the whole message's size in octets.
   */
  constructor(
    readonly source: Buffer,
    readonly size: number,
  ) {
    const text = source.toString('latin1');
    const m = /\r?\n\r?\n/.exec(text);
    const headerEnd = m ? m.index : text.length;
    this.bodyStart = m ? m.index + m[0].length : text.length;
    this.fields = splitFields(text.slice(0, headerEnd));
  }

  /** The decoded, unfolded values of fields with this (lower-case) name, in order. */
  values(key: string): string[] {
    return this.fields.filter((f) => f.key === key).map((f) => fieldValue(f));
  }

  /** The header section as it now stands, with the blank line after it. */
  headerText(): string {
    return `${this.fields.map((f) => `${f.raw}\r\n`).join('')}\r\n`;
  }

  /** The body as stored (the :raw transform), at most maxBodyTextBytes. */
  rawBody(): string {
    return this.source.subarray(this.bodyStart, this.bodyStart + maxBodyTextBytes).toString('utf8');
  }

  /** The decoded text of each leaf part whose content type matches one of `types` (RFC 5173 5.2). */
  contentParts(types: string[]): string[] {
    this.tree ??= parseMimeTree(this.source);
    const wanted = types.map((t) => t.toLowerCase());
    const out: string[] = [];
    let budget = maxBodyTextBytes;
    const matches = (part: MimePart) =>
      wanted.some((t) => t === '' || t === part.type || t === `${part.type}/${part.subtype}`);
    const visit = (part: MimePart) => {
      if (budget <= 0) return;
      if (part.children) return part.children.forEach(visit);
      if (part.message) return visit(part.message.root);
      if (!matches(part)) return;
      const body = this.source.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + budget));
      const bytes = decodeTransfer(part, body) ?? body;
      budget -= bytes.length;
      out.push(part.type === 'text' ? decodeCharset(bytes, part.params.charset) : bytes.toString('latin1'));
    };
    visit(this.tree);
    return out;
  }

  addField(name: string, value: string, last: boolean) {
    const field = { name, key: name.toLowerCase(), raw: foldField(name, value) };
    if (last) this.fields.push(field);
    else this.fields.unshift(field);
    this.edited = true;
  }

  deleteFields(remove: Set<SieveField>) {
    if (remove.size === 0) return;
    for (let i = this.fields.length - 1; i >= 0; i--) if (remove.has(this.fields[i]!)) this.fields.splice(i, 1);
    this.edited = true;
  }
}

export function fieldValue(field: SieveField): string {
  const colon = field.raw.indexOf(':');
  const value = Buffer.from(field.raw.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, ''), 'latin1').toString('utf8');
  return decodeEncodedWords(value.trim());
}

function splitFields(header: string): SieveField[] {
  const fields: SieveField[] = [];
  for (const raw of header.split(/\r?\n(?![ \t])/)) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const name = raw.slice(0, colon).trim();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    fields.push({ name, key: name.toLowerCase(), raw: raw.replace(/\r?\n/g, '\r\n') });
  }
  return fields;
}

/** A field written by addheader: UTF-8 as encoded words where needed, folded at spaces near 78 columns. */
function foldField(name: string, value: string): string {
  const clean = value.replace(/[\r\n\u0000]+/g, ' ');
  const encoded = /[^\x20-\x7e\t]/.test(clean)
    ? clean
        .split(' ')
        .map((word) => (/[^\x20-\x7e]/.test(word) ? `=?UTF-8?B?${Buffer.from(word).toString('base64')}?=` : word))
        .join(' ')
    : clean;
  const words = `${name}: ${encoded}`.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return Buffer.from(lines.join('\r\n '), 'utf8').toString('latin1');
}
