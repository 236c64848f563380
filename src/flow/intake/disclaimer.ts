// The organisation's disclaimer (`holdfast rules disclaimer`), appended at submission to the text of
// a message: its text/plain body and its HTML body (each of a multipart/alternative), decoded,
// extended and encoded again in the part's own transfer encoding and charset, so no header of the
// message changes. Signed or encrypted mail (S/MIME, PGP/MIME, inline PGP) is left as it is: a change
// would break its signature. A part whose charset cannot hold the text is left as it is too.
// DKIM signs what this returns (intake.ts), so the signature covers the disclaimer.
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { encode as encodeQuotedPrintable, wrap as wrapQuotedPrintable } from 'libqp';
import { tenantDisclaimer } from '../../directory/tenant-settings.ts';
import { readBlob, type BlobStore } from '../../store/blobs/blob-store.ts';
import { inlineBlob, inlineBlobLimit } from '../../store/blobs/inline-blob.ts';
import type { Database } from '../../store/schema.ts';
import type { SpooledMessage } from './spool.ts';
import { paramValue } from '../../message/mime-params.ts';
import { type MimePart, parseMimeTree } from '../../message/mime-tree.ts';
import { decodeCharset, decodeTransfer } from '../../message/part-content.ts';

const sealed = new Set([
  'multipart/signed',
  'multipart/encrypted',
  'application/pkcs7-mime',
  'application/x-pkcs7-mime',
  'application/pkcs7-signature',
  'application/pgp-encrypted',
  'application/pgp-signature',
]);

/**
 * A submitted message with its tenant's disclaimer, or as it was (no disclaimer set, signed, no text
 * body). Both ways of submitting use it, SMTP (intake.ts) and JMAP (flow/local-submission.ts), before
 * they sign.
 */
export async function withTenantDisclaimer(
  store: { db: Kysely<Database>; blobs: BlobStore },
  tenantId: number,
  spooled: SpooledMessage,
): Promise<SpooledMessage> {
  const disclaimer = await tenantDisclaimer(store.db, tenantId);
  if (!disclaimer) return spooled;
  const source = spooled.inline ? spooled.inline.data : await readBlob(store.blobs, spooled.blob.hash);
  const changed = addDisclaimer(source, disclaimer);
  if (!changed) return spooled;
  const open = () => Readable.from([changed], { objectMode: false });
  if (changed.length <= inlineBlobLimit) {
    const inline = inlineBlob(changed);
    return { blob: { hash: inline.hash, size: inline.size }, inline, open };
  }
  return { blob: await store.blobs.put(changed), open };
}

/** The message with the disclaimer added, or undefined when nothing was (signed, or no text body). */
export function addDisclaimer(source: Buffer, disclaimer: string): Buffer | undefined {
  const text = disclaimer.replace(/\r?\n/g, '\n').trim();
  if (!text) return undefined;
  const root = parseMimeTree(source);
  if (isSealed(root)) return undefined;
  const targets: MimePart[] = [];
  collectBodies(root, targets);
  const edits: { start: number; end: number; bytes: Buffer }[] = [];
  for (const part of targets) {
    const body = source.subarray(part.bodyStart, part.end);
    if (part.subtype === 'plain' && /^\s*-----BEGIN PGP /m.test(body.toString('latin1'))) return undefined;
    const extended = extendPart(part, body, text);
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
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    pieces.push(source.subarray(at, edit.start), edit.bytes);
    at = edit.end;
  }
  pieces.push(source.subarray(at));
  return Buffer.concat(pieces);
}

function isSealed(part: MimePart): boolean {
  if (sealed.has(`${part.type}/${part.subtype}`)) return true;
  return (part.children ?? []).some(isSealed);
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
 * The part's body with the disclaimer, encoded as the part was (or as quoted-printable, said by
 * `quotedPrintable`, for a 7bit part the text does not fit); undefined if it cannot be.
 */
function extendPart(
  part: MimePart,
  body: Buffer,
  disclaimer: string,
): { bytes: Buffer; quotedPrintable?: boolean } | undefined {
  const decoded = decodeTransfer(part, body);
  if (!decoded) return undefined;
  const charset = (paramValue(part.params, 'charset') ?? 'us-ascii').toLowerCase();
  const original = decodeCharset(decoded, charset);
  const extended = part.subtype === 'html' ? withHtml(original, disclaimer) : withText(original, disclaimer);
  const bytes = encodeCharset(extended, charset);
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

function withText(original: string, disclaimer: string): string {
  const body = original.replace(/(\r?\n)*$/, '');
  const ending = /\r?\n$/.test(original) ? '\r\n' : '';
  return `${body}\r\n\r\n${disclaimer.replace(/\n/g, '\r\n')}${ending}`;
}

function withHtml(original: string, disclaimer: string): string {
  const escaped = disclaimer
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '<br>\r\n');
  const block = `<div class="disclaimer"><p>${escaped}</p></div>\r\n`;
  const close = original.search(/<\/body\s*>/i);
  if (close < 0) return `${original.replace(/(\r?\n)*$/, '')}\r\n${block}`;
  return `${original.slice(0, close)}${block}${original.slice(close)}`;
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
