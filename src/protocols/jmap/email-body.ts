// An Email's body as JMAP shows it (RFC 8621 4.1.4): bodyStructure from the stored MIME tree (parts
// numbered as IMAP sections, so a part id means the same in both), textBody/htmlBody/attachments by
// the RFC's own algorithm, body values decoded from the parts' byte ranges of the blob, preview.
import libmime from 'libmime';
import { paramValue } from '../../message/mime-params.ts';
import type { MimePart } from '../../message/mime-tree.ts';
import { decodeCharset, decodeTransfer, searchableText } from '../../message/part-content.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { readBlobBytes } from '../../store/blobs/blob-store.ts';

/** Bytes [start, end) of a message's content (the offsets of its MIME tree). */
export type ContentReader = (start: number, end: number) => Promise<Buffer>;

/** A stored content, read from the blob store. */
export const blobReader =
  (blobs: BlobStore, hash: string): ContentReader =>
  (start, end) =>
    readBlobBytes(blobs, hash, start, end);

/** A content in memory (Email/parse, a message being made). */
export const bufferReader =
  (source: Buffer): ContentReader =>
  async (start, end) =>
    source.subarray(start, end);

export interface BodyPart {
  partId: string | null;
  blobId: string | null;
  size: number;
  headers: { name: string; value: string }[] | undefined;
  name: string | null;
  type: string;
  charset: string | null;
  disposition: string | null;
  cid: string | null;
  language: string[] | null;
  location: string | null;
  subParts?: BodyPart[];
  /** Not shown: where the part is in the blob. */
  mime: MimePart;
}

export const bodyPartProperties = [
  'partId',
  'blobId',
  'size',
  'headers',
  'name',
  'type',
  'charset',
  'disposition',
  'cid',
  'language',
  'location',
  'subParts',
] as const;
export const defaultBodyProperties = bodyPartProperties.filter((p) => p !== 'headers' && p !== 'subParts');

const decodeWords = (value: string) => {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
};

/**
 * The decoded size of a leaf's body, estimated without reading it: base64 holds 57 bytes per 78
 * (76 characters and a line break). docs/jmap.md says so.
 */
function decodedSize(part: MimePart): number {
  const length = part.end - part.bodyStart;
  return part.encoding === 'base64' ? Math.floor((length * 57) / 78) : length;
}

/** The body structure, parts numbered as IMAP sections ("1", "2.1"); a message/rfc822 part is a leaf. */
export function bodyStructure(root: MimePart, blobIdOf: (partId: string) => string): BodyPart {
  const make = (part: MimePart, section: string): BodyPart => {
    const type = `${part.type}/${part.subtype}`;
    const base = {
      headers: undefined,
      name: null,
      charset: null,
      disposition: part.disposition?.type ?? null,
      cid: part.id ? part.id.replace(/^<|>$/g, '') : null,
      language: part.language,
      location: part.location,
      mime: part,
      type,
    };
    if (part.children) {
      const prefix = section ? `${section}.` : '';
      return {
        ...base,
        partId: null,
        blobId: null,
        size: 0,
        subParts: part.children.map((child, i) => make(child, `${prefix}${i + 1}`)),
      };
    }
    const id = section || '1';
    const name = paramValue(part.disposition?.params ?? {}, 'filename') ?? paramValue(part.params, 'name');
    return {
      ...base,
      partId: id,
      blobId: blobIdOf(id),
      size: decodedSize(part),
      name: name === undefined ? null : decodeWords(name),
      charset: paramValue(part.params, 'charset') ?? (part.type === 'text' ? 'us-ascii' : null),
    };
  };
  return make(root, '');
}

const isInlineMediaType = (type: string) => /^(image|audio|video)\//.test(type);

/** textBody, htmlBody and attachments (RFC 8621 4.1.4, its parseStructure). */
export function bodyLists(root: BodyPart) {
  const textBody: BodyPart[] = [];
  const htmlBody: BodyPart[] = [];
  const attachments: BodyPart[] = [];
  const parse = (
    parts: BodyPart[],
    multipartType: string,
    inAlternative: boolean,
    text: BodyPart[] | null,
    html: BodyPart[] | null,
  ) => {
    const textLength = text ? text.length : -1;
    const htmlLength = html ? html.length : -1;
    for (const [i, part] of parts.entries()) {
      const isInline =
        part.disposition !== 'attachment' &&
        (part.type === 'text/plain' || part.type === 'text/html' || isInlineMediaType(part.type)) &&
        (i === 0 || (multipartType !== 'related' && (isInlineMediaType(part.type) || !part.name)));
      if (part.subParts) {
        const sub = part.type.split('/')[1]!;
        parse(part.subParts, sub, inAlternative || sub === 'alternative', text, html);
      } else if (isInline) {
        if (multipartType === 'alternative') {
          if (part.type === 'text/plain') text?.push(part);
          else if (part.type === 'text/html') html?.push(part);
          else attachments.push(part);
          continue;
        }
        if (inAlternative) {
          if (part.type === 'text/plain') html = null;
          if (part.type === 'text/html') text = null;
        }
        text?.push(part);
        html?.push(part);
        if ((!text || !html) && isInlineMediaType(part.type)) attachments.push(part);
      } else attachments.push(part);
    }
    if (multipartType === 'alternative' && text && html) {
      if (textLength === text.length && htmlLength !== html.length) text.push(...html.slice(htmlLength));
      if (htmlLength === html.length && textLength !== text.length) html.push(...text.slice(textLength));
    }
  };
  parse([root], 'mixed', false, textBody, htmlBody);
  return { textBody, htmlBody, attachments };
}

/** Bytes of a header section read at most (a longer one is cut: its last fields are not shown). */
const maxHeaderSection = 1_000_000;

/** A part's header fields as written (names in their case, values unfolded only by the client). */
export async function partHeaders(read: ContentReader, part: MimePart) {
  if (part.bodyStart <= part.headerStart) return [];
  const end = Math.min(part.bodyStart, part.headerStart + maxHeaderSection);
  return headerFields((await read(part.headerStart, end)).toString('latin1'));
}

/** The fields of a header section (latin1 text: one character per byte), values as written. */
export function headerFields(text: string) {
  const out: { name: string; value: string }[] = [];
  for (const raw of text
    .replace(/\r?\n$/, '')
    .replace(/\r?\n$/, '')
    .split(/\r?\n(?![ \t])/)) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: raw.slice(0, colon), value: Buffer.from(raw.slice(colon + 1), 'latin1').toString('utf8') });
  }
  return out;
}

/** A text part decoded; undefined for a transfer encoding that cannot be undone. */
export async function partText(read: ContentReader, part: MimePart): Promise<string | undefined> {
  const body = await read(part.bodyStart, part.end);
  const bytes = decodeTransfer(part, body);
  return bytes && decodeCharset(bytes, paramValue(part.params, 'charset'));
}

/** An EmailBodyValue (RFC 8621 4.1.4), cut at a character boundary within maxBytes of UTF-8. */
export function bodyValue(decoded: string | undefined, maxBytes: number) {
  let text = decoded;
  if (text === undefined) return { value: '', isEncodingProblem: true, isTruncated: false };
  // Line ends are LF in a body value (RFC 8621 4.1.4).
  text = text.replace(/\r\n/g, '\n');
  const isEncodingProblem = text.includes('\uFFFD');
  if (maxBytes <= 0 || Buffer.byteLength(text) <= maxBytes)
    return { value: text, isEncodingProblem, isTruncated: false };
  let value = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  if (value.endsWith('\uFFFD')) value = value.slice(0, -1);
  return { value, isEncodingProblem, isTruncated: true };
}

/**
 * The readable text of a text/plain or text/html part (HTML without its tags), as search reads it:
 * the part's bytes taken as a message of that one part.
 */
export async function partReadableText(read: ContentReader, part: MimePart): Promise<string> {
  const bytes = await read(part.bodyStart, part.end);
  const alone = { ...part, headerStart: 0, bodyStart: 0, end: bytes.length, disposition: null };
  return searchableText(bytes, { ...alone, children: undefined, message: undefined }, 64 * 1024);
}

/** Up to 256 characters of the text, spaces collapsed (RFC 8621 4.1.4 preview). */
export function previewOf(text: string): string {
  return [...text.replace(/\s+/g, ' ').trim()].slice(0, 256).join('');
}

/**
 * The part's properties the client asked for (subParts with the same properties); `header:…`
 * properties are given by `headerProperty` from the part's fields.
 */
export function showPart(
  part: BodyPart,
  wanted: string[],
  headers: Map<BodyPart, { name: string; value: string }[]>,
  headerProperty: (fields: { name: string; value: string }[], property: string) => unknown = () => null,
) {
  const out: Record<string, unknown> = {};
  for (const property of wanted) {
    if (property === 'subParts') {
      if (part.subParts) out.subParts = part.subParts.map((p) => showPart(p, wanted, headers, headerProperty));
    } else if (property === 'headers') out.headers = headers.get(part) ?? [];
    else if (property.startsWith('header:')) out[property] = headerProperty(headers.get(part) ?? [], property);
    else out[property] = part[property as keyof BodyPart];
  }
  return out;
}
