// The MIME structure of a message with the byte offsets of every part, computed once when a message
// is stored, so that IMAP's BODYSTRUCTURE and section fetches (BODY[1.2], BODY[2.HEADER]...) never
// reparse the message: a section is a byte range of the blob.
//
// Offsets are into the blob (the bytes as the sender sent them). Lenient like every mail reader must
// be: a missing boundary ends the part at the end of its parent, a header without a blank line is all
// header. Nesting and part counts are bounded so a hostile message cannot make the tree unbounded.
import { parseEnvelope, type Envelope } from './envelope.ts';
import { HeaderScanner } from './header-scanner.ts';
import { parseContentField } from './mime-params.ts';

/**
 * The version of what parseMimeTree() and parseEnvelope() make, kept in the root of a stored tree:
 * metadata stored by an older version is computed again (mailbox/message-metadata.ts).
 * 2: line counts are the body's line breaks; parameters and addresses read as Dovecot reads them.
 */
export const treeFormat = 2;

/** Whether a stored tree (its JSON, or the start of it) was made by this version: parseMimeTree() writes the format first. */
export const isCurrentTree = (json: string) => json.startsWith(`{"format":${treeFormat},`);

export interface MimePart {
  /** The root's treeFormat (stored trees only). */
  format?: number;
  /** Offset of the part's first header line (for the root: 0). */
  headerStart: number;
  /** Offset of the part's body (after the blank line). */
  bodyStart: number;
  /** Offset just past the part's body. */
  end: number;
  type: string; // lower case, e.g. "text"
  subtype: string; // lower case, e.g. "plain"
  /** Parameters, RFC 2231 sections joined but not decoded (mime-params.ts). */
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  encoding: string | null;
  md5: string | null;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  /** Line breaks in the body (a last line without one is not counted, as Dovecot counts), for text/* and message/rfc822 parts. */
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
  // The format first, so that a stored tree says its version in its first bytes.
  return { format: treeFormat, ...parsePart(text, 0, text.length, 0, budget, false) };
}

function parsePart(
  text: string,
  start: number,
  end: number,
  depth: number,
  budget: { parts: number },
  inDigest: boolean,
): MimePart {
  budget.parts++;
  const { headerEnd, bodyStart } = splitHeader(text, start, end);
  const headers = parseHeaderLines(text.slice(start, headerEnd));
  const field = (name: string) => headers.find(([n]) => n === name)?.[1] ?? null;

  const contentType = parseContentField(field('content-type') ?? '', true);
  let [type, subtype] = contentType.value.split('/');
  if (!type || !subtype) [type, subtype] = inDigest ? ['message', 'rfc822'] : ['text', 'plain'];
  const params = contentType.params;
  if (type === 'text' && !params.charset) params.charset = 'us-ascii';

  const dispositionField = field('content-disposition');
  const disposition = dispositionField === null ? null : parseContentField(dispositionField, false);
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
    encoding: transferEncoding(field('content-transfer-encoding')),
    md5: field('content-md5'),
    disposition: disposition?.value ? { type: disposition.value, params: disposition.params } : null,
    language: language === null ? null : languageTags(language),
    location: field('content-location'),
    lines: 0,
  };

  const canNest = depth < maxDepth && budget.parts < maxParts;
  if (type === 'multipart') {
    const ranges =
      params.boundary && canNest ? splitMultipart(text, bodyStart, end, params.boundary, maxParts - budget.parts) : [];
    part.children = [];
    // Parts past the bound (counted over the whole message) are left out: BODYSTRUCTURE does not list
    // them and BODY[n] of one is empty; their bytes stay in the multipart's own body (BODY[TEXT]).
    for (const [s, e] of ranges) {
      if (budget.parts >= maxParts) break;
      part.children.push(parsePart(text, s, e, depth + 1, budget, subtype === 'digest'));
    }
    // IMAP has no multipart without parts: one empty text part stands in (as in Dovecot, BODY[1] is "").
    if (part.children.length === 0) part.children.push(emptyTextPart(end));
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && canNest) {
    const root = parsePart(text, bodyStart, end, depth + 1, budget, false);
    const nestedHeaders = parseHeaderLines(text.slice(bodyStart, splitHeader(text, bodyStart, end).headerEnd));
    part.message = { envelope: parseEnvelope(nestedHeaders), root };
  }
  if (type === 'text' || part.message) part.lines = countLines(text, bodyStart, end);
  return part;
}

function emptyTextPart(at: number): MimePart {
  return {
    headerStart: at,
    bodyStart: at,
    end: at,
    type: 'text',
    subtype: 'plain',
    params: { charset: 'us-ascii' },
    id: null,
    description: null,
    encoding: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    lines: 0,
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
    const value = Buffer.from(raw.slice(colon + 1).replace(/\r?\n/g, ''), 'latin1')
      .toString('utf8')
      .trim();
    lines.push([name, value]);
  }
  return lines;
}

/** The [start, end) ranges of the body parts between `--boundary` delimiter lines: the first `limit` of them. */
function splitMultipart(text: string, start: number, end: number, boundary: string, limit: number): [number, number][] {
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
    if (closing || ranges.length === limit) return ranges;
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

/**
 * RFC 3501 gives "the size of the body in text lines" without saying how a last line without a
 * line break counts; Dovecot counts line breaks, so a part's last line, whose CRLF
 * belongs to the next boundary (RFC 2046 §5.1.1), is not counted.
 */
function countLines(text: string, start: number, end: number): number {
  let lines = 0;
  for (let at = text.indexOf('\n', start); at >= 0 && at < end; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** A Content-Transfer-Encoding: one token, lower-case; null when it is missing or not one token. */
function transferEncoding(value: string | null): string | null {
  if (value === null) return null;
  const scanner = new HeaderScanner(value);
  scanner.skipCfws();
  const token = scanner.token();
  return token && scanner.atEnd ? token.toLowerCase() : null;
}

/** Content-Language: a comma-separated list of tags (RFC 3282); null when there is none. */
function languageTags(value: string): string[] | null {
  const scanner = new HeaderScanner(value);
  const tags: string[] = [];
  scanner.skipCfws();
  for (let tag = scanner.dotAtom(); tag !== undefined; tag = scanner.dotAtom()) {
    tags.push(tag);
    if (scanner.peek() !== ',') break;
    scanner.at++;
    scanner.skipCfws();
  }
  return tags.length ? tags : null;
}

/**
 * The part `path` (IMAP section numbers, e.g. [2, 1]) refers to, or undefined. A message that is not
 * multipart has one part, 1, its body (RFC 9051 §6.4.5); a part that is neither multipart nor a
 * message has none.
 */
export function findPart(root: MimePart, path: number[]): MimePart | undefined {
  let part: MimePart | undefined = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    // Inside a message/rfc822 part, numbering continues into the encapsulated message.
    const container: MimePart = i > 0 && part.message ? part.message.root : part;
    if (container.children) part = container.children[n - 1];
    else if (n === 1 && (i === 0 || part.message)) part = container;
    else return undefined;
    if (!part) return undefined;
  }
  return part;
}
