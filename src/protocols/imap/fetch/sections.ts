// The bytes of a body section (RFC 9051 section 6.4.5): a message is the prefix Holdfast added on
// receipt followed by the blob; section offsets come from the stored MIME tree.
//
// A section that does not exist (a part number past the last, HEADER or TEXT of a part that is not a
// message) is empty. The RFCs do not say what it is (the grammar allows NIL too); Dovecot answers
// "", so clients are used to that.
import { findPart, parseHeaderLines, type MimePart } from '../../../message/mime-tree.ts';
import { decodeTransfer } from '../../../message/part-content.ts';
import type { Section } from '../parser/fetch-items.ts';

export interface MessageContent {
  prefix: Buffer;
  blob: Buffer;
  tree: MimePart;
}

export class SectionError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const nothing = Buffer.alloc(0);

/** The section's bytes (none when the part does not exist). */
export function sectionBytes(content: MessageContent, section: Section): Buffer {
  const { prefix, blob, tree } = content;
  const { path, specifier } = section;
  if (path.length === 0 && specifier === '') return Buffer.concat([prefix, blob]);
  const part = path.length ? findPart(tree, path) : tree;
  if (!part) return nothing;
  if (specifier === '') return blob.subarray(part.bodyStart, part.end);
  if (specifier === 'MIME') return blob.subarray(part.headerStart, part.bodyStart);
  // HEADER and TEXT of a part number refer to the message it encapsulates.
  const message = path.length === 0 ? tree : part.message?.root;
  if (!message) return nothing;
  const isRoot = message === tree;
  if (specifier === 'TEXT') return blob.subarray(message.bodyStart, message.end);
  const header = Buffer.concat([
    isRoot ? prefix : Buffer.alloc(0),
    blob.subarray(message.headerStart, message.bodyStart),
  ]);
  if (specifier === 'HEADER') return header;
  return selectHeaderFields(header, section.fields, specifier === 'HEADER.FIELDS.NOT');
}

/** The header lines (folded lines kept) whose names are (or, with `exclude`, are not) in `fields`. */
export function selectHeaderFields(header: Buffer, fields: string[], exclude: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const text = header.toString('latin1');
  const kept: string[] = [];
  for (const raw of text.split(/\r?\n(?![ \t])/)) {
    if (!raw) continue;
    const [line] = parseHeaderLines(raw);
    if (!line) continue;
    if (wanted.has(line[0]) !== exclude) kept.push(raw.replace(/\r?\n/g, '\r\n'));
  }
  return Buffer.from(`${kept.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
}

/** BINARY[section]: the part's content with its transfer encoding undone (none when the part does not exist). */
export function binaryBytes(content: MessageContent, section: Section): Buffer {
  if (section.path.length === 0) return Buffer.concat([content.prefix, content.blob]);
  const part = findPart(content.tree, section.path);
  if (!part) return nothing;
  if (part.children) throw new SectionError('BINARY of a multipart is not defined', 'UNKNOWN-CTE');
  const decoded = decodeTransfer(part, content.blob.subarray(part.bodyStart, part.end));
  if (!decoded) throw new SectionError(`Unknown content transfer encoding ${part.encoding}`, 'UNKNOWN-CTE');
  return decoded;
}

export function applyPartial(bytes: Buffer, partial: { start: number; length: number } | undefined): Buffer {
  if (!partial) return bytes;
  return bytes.subarray(Math.min(partial.start, bytes.length), Math.min(partial.start + partial.length, bytes.length));
}

/**
 * Where a section's bytes are, for a large message read piece by piece instead of whole: a byte
 * range of the message (prefix + blob) to stream, or a header range to read and filter; an empty
 * range when the part does not exist.
 */
export type SectionPlan =
  | { kind: 'range'; start: number; end: number }
  | { kind: 'header'; start: number; end: number; fields?: { names: string[]; exclude: boolean } };

/** Offsets in the message as sent (the prefix, then the blob). */
export function sectionPlan(tree: MimePart, prefixLength: number, section: Section): SectionPlan {
  const { path, specifier } = section;
  const at = (offset: number) => prefixLength + offset;
  if (path.length === 0 && specifier === '') return { kind: 'range', start: 0, end: at(tree.end) };
  const nowhere: SectionPlan = { kind: 'range', start: 0, end: 0 };
  const part = path.length ? findPart(tree, path) : tree;
  if (!part) return nowhere;
  if (specifier === '') return { kind: 'range', start: at(part.bodyStart), end: at(part.end) };
  if (specifier === 'MIME') return { kind: 'header', start: at(part.headerStart), end: at(part.bodyStart) };
  const message = path.length === 0 ? tree : part.message?.root;
  if (!message) return nowhere;
  if (specifier === 'TEXT') return { kind: 'range', start: at(message.bodyStart), end: at(message.end) };
  // The root's header includes the prefix Holdfast added on receipt.
  const start = message === tree ? 0 : at(message.headerStart);
  if (specifier === 'HEADER') return { kind: 'header', start, end: at(message.bodyStart) };
  return {
    kind: 'header',
    start,
    end: at(message.bodyStart),
    fields: { names: section.fields, exclude: specifier === 'HEADER.FIELDS.NOT' },
  };
}
