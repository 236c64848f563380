// The MIME structure of a message with the byte offsets of every part, computed once when a message
// is stored, so that IMAP's BODYSTRUCTURE and section fetches (BODY[1.2], BODY[2.HEADER]...) never
// reparse the message: a section is a byte range of the blob.
//
// Offsets are into the blob (the bytes as the sender sent them). Lenient like every mail reader must
// be: a missing boundary ends the part at the end of its parent, a header without a blank line is all
// header. Nesting and part counts are bounded so a hostile message cannot make the tree unbounded.
import libmime from 'libmime';
import { parseEnvelope, type Envelope } from './envelope.ts';

export interface MimePart {
  /** Offset of the part's first header line (for the root: 0). */
  headerStart: number;
  /** Offset of the part's body (after the blank line). */
  bodyStart: number;
  /** Offset just past the part's body. */
  end: number;
  type: string; // lower case, e.g. "text"
  subtype: string; // lower case, e.g. "plain"
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  encoding: string | null;
  md5: string | null;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  /** Lines of the body, for text/* and message/rfc822 parts. */
  lines: number;
  /** Sub-parts of a multipart. */
  children?: MimePart[];
  /** The encapsulated message of a message/rfc822 part. */
  message?: { envelope: Envelope; root: MimePart };
}

const maxDepth = 32;
const maxParts = 2000;

export type HeaderLine = [name: string, value: string];

/** Parses `source` (the whole message) into its part tree. */
export function parseMimeTree(source: Buffer): MimePart {
  // latin1 keeps one character per byte, so string offsets are byte offsets.
  const text = source.toString('latin1');
  const budget = { parts: 0 };
  return parsePart(text, 0, text.length, 0, budget, false);
}

function parsePart(text: string, start: number, end: number, depth: number, budget: { parts: number }, inDigest: boolean): MimePart {
  budget.parts++;
  const { headerEnd, bodyStart } = splitHeader(text, start, end);
  const headers = parseHeaderLines(text.slice(start, headerEnd));
  const field = (name: string) => headers.find(([n]) => n === name)?.[1] ?? null;

  const contentType = field('content-type');
  const parsedType = contentType ? libmime.parseHeaderValue(contentType) : null;
  let [type, subtype] = (parsedType?.value ?? '').toLowerCase().split('/').map((s) => s.trim());
  if (!type || !subtype) [type, subtype] = inDigest ? ['message', 'rfc822'] : ['text', 'plain'];
  const params = lowerKeys(parsedType?.params ?? {});
  if (type === 'text' && !params.charset) params.charset = 'us-ascii';

  const dispositionField = field('content-disposition');
  const disposition = dispositionField ? libmime.parseHeaderValue(dispositionField) : null;
  const language = field('content-language');
  const part: MimePart = {
    headerStart: start,
    bodyStart,
    end,
    type,
    subtype,
    params,
    id: field('content-id'),
    description: field('content-description'),
    encoding: field('content-transfer-encoding')?.trim().toLowerCase() ?? null,
    md5: field('content-md5'),
    disposition: disposition?.value ? { type: disposition.value.toLowerCase(), params: lowerKeys(disposition.params) } : null,
    language: language ? language.split(',').map((l) => l.trim()).filter(Boolean) : null,
    location: field('content-location'),
    lines: 0,
  };

  const canNest = depth < maxDepth && budget.parts < maxParts;
  if (type === 'multipart' && params.boundary && canNest) {
    part.children = splitMultipart(text, bodyStart, end, params.boundary).map(([s, e]) =>
      parsePart(text, s, e, depth + 1, budget, subtype === 'digest'),
    );
    if (part.children.length === 0) part.children.push(emptyTextPart(bodyStart, end));
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && canNest) {
    const root = parsePart(text, bodyStart, end, depth + 1, budget, false);
    const nestedHeaders = parseHeaderLines(text.slice(bodyStart, splitHeader(text, bodyStart, end).headerEnd));
    part.message = { envelope: parseEnvelope(nestedHeaders), root };
  }
  if (type === 'text' || part.message) part.lines = countLines(text, bodyStart, end);
  return part;
}

function emptyTextPart(at: number, end: number): MimePart {
  return {
    headerStart: at, bodyStart: at, end, type: 'text', subtype: 'plain', params: { charset: 'us-ascii' },
    id: null, description: null, encoding: null, md5: null, disposition: null, language: null, location: null, lines: 0,
  };
}

/** Where a part's header ends and its body begins (after the blank line). */
export function splitHeader(text: string, start: number, end: number): { headerEnd: number; bodyStart: number } {
  // A part that starts with a blank line has an empty header.
  if (text.startsWith('\r\n', start)) return { headerEnd: start, bodyStart: start + 2 };
  if (text[start] === '\n') return { headerEnd: start, bodyStart: start + 1 };
  let at = start;
  while (at < end) {
    const newline = text.indexOf('\n', at);
    if (newline < 0 || newline >= end) break;
    const next = newline + 1;
    if (text.startsWith('\r\n', next) && next + 2 <= end) return { headerEnd: next, bodyStart: next + 2 };
    if (text[next] === '\n') return { headerEnd: next, bodyStart: next + 1 };
    at = next;
  }
  return { headerEnd: end, bodyStart: end };
}

/** Unfolded header lines with lower-case names; values keep their raw (possibly encoded) form. */
export function parseHeaderLines(header: string): HeaderLine[] {
  const lines: HeaderLine[] = [];
  for (const raw of header.split(/\r?\n(?![ \t])/)) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const name = raw.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    const value = Buffer.from(raw.slice(colon + 1).replace(/\r?\n/g, ''), 'latin1').toString('utf8').trim();
    lines.push([name, value]);
  }
  return lines;
}

/** The [start, end) ranges of the body parts between `--boundary` delimiter lines. */
function splitMultipart(text: string, start: number, end: number, boundary: string): [number, number][] {
  const delimiter = `--${boundary}`;
  const ranges: [number, number][] = [];
  let partStart = -1;
  let at = start;
  while (at < end) {
    const found = text.indexOf(delimiter, at);
    if (found < 0 || found + delimiter.length > end) break;
    at = found + delimiter.length;
    if (found !== start && text[found - 1] !== '\n') continue;
    const closing = text.startsWith('--', at);
    let lineEnd = text.indexOf('\n', at);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end;
    // A delimiter line is the boundary, an optional "--" and only white space after.
    if (!/^(--)?[ \t\r]*$/.test(text.slice(at, lineEnd))) continue;
    if (partStart >= 0) ranges.push([partStart, lineBreakBefore(text, found, partStart)]);
    if (closing) return ranges;
    partStart = Math.min(lineEnd + 1, end);
    at = partStart;
  }
  if (partStart >= 0) ranges.push([partStart, end]);
  return ranges;
}

/** The line break before a delimiter belongs to the delimiter, not to the part before it. */
function lineBreakBefore(text: string, delimiterAt: number, floor: number): number {
  let at = delimiterAt;
  if (at > floor && text[at - 1] === '\n') at--;
  if (at > floor && text[at - 1] === '\r') at--;
  return at;
}

function countLines(text: string, start: number, end: number): number {
  if (end <= start) return 0;
  let lines = 0;
  for (let at = text.indexOf('\n', start); at >= 0 && at < end; at = text.indexOf('\n', at + 1)) lines++;
  return text[end - 1] === '\n' ? lines : lines + 1;
}

function lowerKeys(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) out[key.toLowerCase()] = String(value);
  return out;
}

/** The part `path` (IMAP section numbers, e.g. [2, 1]) refers to, or undefined. */
export function findPart(root: MimePart, path: number[]): MimePart | undefined {
  let part: MimePart | undefined = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i];
    // Inside a message/rfc822 part, numbering continues into the encapsulated message.
    if (i > 0 && part.message) part = part.message.root;
    if (part.children) part = part.children[n - 1];
    else if (n !== 1) return undefined;
    if (!part) return undefined;
  }
  return part;
}
