// Changing the text of a message in place: its text/plain body and its HTML body (each of a
// multipart/alternative, the body of a mixed message, never an attachment), decoded, changed and
// encoded again in the part's own transfer encoding and charset, so no header of the message changes
// (a 7bit part whose new text needs more becomes quoted-printable, and says so). Signed or encrypted
// mail (S/MIME, PGP/MIME, inline PGP) is never changed: a change would break its signature. A part
// whose charset cannot hold the new text is left as it is. The disclaimer (disclaimer.ts) and the
// external-mail banner (external-banner.ts) are both made with it.
import { Readable } from 'node:stream';
import { encode as encodeQuotedPrintable, wrap as wrapQuotedPrintable } from 'libqp';
import { paramValue } from '../../message/mime-params.ts';
import { type MimePart, parseMimeTree } from '../../message/mime-tree.ts';
import { decodeCharset, decodeTransfer } from '../../message/part-content.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { inlineBlob, inlineBlobLimit } from '../../store/blobs/inline-blob.ts';
import type { SpooledMessage } from './spool.ts';

const sealedTypes = new Set([
  'multipart/signed',
  'multipart/encrypted',
  'application/pkcs7-mime',
  'application/x-pkcs7-mime',
  'application/pkcs7-signature',
  'application/pgp-encrypted',
  'application/pgp-signature',
]);

/** What to make of a body's decoded text; undefined leaves that part as it is. */
export interface TextEdit {
  text(original: string): string | undefined;
  html(original: string): string | undefined;
}

/** The parsed message and whether it may be changed (not signed or encrypted). */
export function isSealed(source: Buffer, root: MimePart = parseMimeTree(source)): boolean {
  if (sealedPart(root)) return true;
  const bodies: MimePart[] = [];
  collectBodies(root, bodies);
  return bodies.some(
    (part) =>
      part.subtype === 'plain' &&
      /^\s*-----BEGIN PGP /m.test(source.subarray(part.bodyStart, part.end).toString('latin1')),
  );
}

/**
 * The message with its text bodies changed by `edit`, or undefined when nothing was (signed or
 * encrypted, no text body, or `edit` left every part as it was).
 */
export function editTextBodies(source: Buffer, edit: TextEdit): Buffer | undefined {
  const root = parseMimeTree(source);
  if (isSealed(source, root)) return undefined;
  const targets: MimePart[] = [];
  collectBodies(root, targets);
  const edits: { start: number; end: number; bytes: Buffer }[] = [];
  for (const part of targets) {
    const extended = editPart(part, source.subarray(part.bodyStart, part.end), edit);
    if (!extended) continue;
    if (!extended.quotedPrintable) edits.push({ start: part.bodyStart, end: part.end, bytes: extended.bytes });
    else {
      // A 7bit part the text does not fit: its body becomes quoted-printable, and its header says so.
      const header = withTransferEncoding(source.subarray(part.headerStart, part.bodyStart).toString('latin1'));
      edits.push({
        start: part.headerStart,
        end: part.end,
        bytes: Buffer.concat([Buffer.from(header, 'latin1'), extended.bytes]),
      });
    }
  }
  if (edits.length === 0) return undefined;
  const pieces: Buffer[] = [];
  let at = 0;
  for (const change of edits.sort((a, b) => a.start - b.start)) {
    pieces.push(source.subarray(at, change.start), change.bytes);
    at = change.end;
  }
  pieces.push(source.subarray(at));
  return Buffer.concat(pieces);
}

/** The decoded text of each text body (what `editTextBodies` would be given). */
export function textBodies(source: Buffer): { subtype: 'plain' | 'html'; text: string }[] {
  const bodies: MimePart[] = [];
  collectBodies(parseMimeTree(source), bodies);
  return bodies.flatMap((part) => {
    const decoded = decodeTransfer(part, source.subarray(part.bodyStart, part.end));
    if (!decoded) return [];
    const charset = (paramValue(part.params, 'charset') ?? 'us-ascii').toLowerCase();
    return [{ subtype: part.subtype as 'plain' | 'html', text: decodeCharset(decoded, charset) }];
  });
}

/** A changed message as intake spools one: inline when small, in the blob store otherwise. */
export async function spooledContent(blobs: BlobStore, changed: Buffer): Promise<SpooledMessage> {
  const open = () => Readable.from([changed], { objectMode: false });
  if (changed.length <= inlineBlobLimit) {
    const inline = inlineBlob(changed);
    return { blob: { hash: inline.hash, size: inline.size }, inline, open };
  }
  return { blob: await blobs.put(changed), open };
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '<br>\r\n');
}

function sealedPart(part: MimePart): boolean {
  if (sealedTypes.has(`${part.type}/${part.subtype}`)) return true;
  return (part.children ?? []).some(sealedPart);
}

/** The text bodies of the message: a text part, the plain and HTML alternatives, the first part of a mixed. */
function collectBodies(part: MimePart, out: MimePart[]) {
  if (part.disposition?.type === 'attachment') return;
  if (part.type === 'text' && (part.subtype === 'plain' || part.subtype === 'html')) {
    out.push(part);
    return;
  }
  if (part.type !== 'multipart' || !part.children?.length) return;
  if (part.subtype === 'alternative') for (const child of part.children) collectBodies(child, out);
  else collectBodies(part.children[0]!, out);
}

/** The header of a part with its Content-Transfer-Encoding set to quoted-printable. */
function withTransferEncoding(header: string): string {
  const without = header.replace(/^content-transfer-encoding:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n/gim, '');
  const end = without.search(/\r?\n$/);
  return `${without.slice(0, end)}Content-Transfer-Encoding: quoted-printable\r\n${without.slice(end)}`;
}

/**
 * The part's body changed, encoded as the part was (or as quoted-printable, said by
 * `quotedPrintable`, for a 7bit part the text does not fit); undefined if it is not changed.
 */
function editPart(
  part: MimePart,
  body: Buffer,
  edit: TextEdit,
): { bytes: Buffer; quotedPrintable?: boolean } | undefined {
  const decoded = decodeTransfer(part, body);
  if (!decoded) return undefined;
  const charset = (paramValue(part.params, 'charset') ?? 'us-ascii').toLowerCase();
  const original = decodeCharset(decoded, charset);
  const changed = part.subtype === 'html' ? edit.html(original) : edit.text(original);
  if (changed === undefined) return undefined;
  const bytes = encodeCharset(changed, charset);
  if (!bytes) return undefined;
  const trailing = /\r?\n$/.test(body.toString('latin1')) ? '\r\n' : '';
  switch (part.encoding ?? '7bit') {
    case 'base64':
      return {
        bytes: Buffer.from(`${(bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n')}${trailing}`, 'latin1'),
      };
    case 'quoted-printable':
      return { bytes: quotedPrintable(bytes) };
    case '7bit':
      if (bytes.some((b) => b > 0x7f)) return { bytes: quotedPrintable(bytes), quotedPrintable: true };
      return { bytes };
    case '8bit':
    case 'binary':
      return { bytes };
    default:
      return undefined;
  }
}

/** Quoted-printable keeps the text's own line breaks, the last one too. */
function quotedPrintable(bytes: Buffer): Buffer {
  return Buffer.from(wrapQuotedPrintable(encodeQuotedPrintable(bytes), 76), 'latin1');
}

/** The text in the part's charset; undefined when the charset cannot hold it. */
function encodeCharset(text: string, charset: string): Buffer | undefined {
  if (charset === 'utf-8' || charset === 'utf8') return Buffer.from(text, 'utf8');
  if (charset === 'us-ascii' || charset === 'ascii')
    return /^[\x00-\x7f]*$/.test(text) ? Buffer.from(text, 'latin1') : undefined;
  if (charset === 'iso-8859-1' || charset === 'latin1')
    return /^[\x00-\xff]*$/.test(text) ? Buffer.from(text, 'latin1') : undefined;
  return undefined;
}
