// The organisation's disclaimer (`holdfast rules disclaimer`), appended at submission to the text of
// a message: its text/plain body and its HTML body (each of a multipart/alternative), through
// mime-text-edit.ts, so no header of the message changes and signed or encrypted mail is left as it
// is. DKIM signs what this returns (intake.ts), so the signature covers the disclaimer.
import type { Kysely } from 'kysely';
import { tenantDisclaimer } from '../../directory/tenant-settings.ts';
import { type BlobStore, readBlob } from '../../store/blobs/blob-store.ts';
import type { Database } from '../../store/schema.ts';
import { editTextBodies, escapeHtml, spooledContent } from './mime-text-edit.ts';
import type { SpooledMessage } from './spool.ts';

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
  return spooledContent(store.blobs, changed);
}

/** The message with the disclaimer added, or undefined when nothing was (signed, or no text body). */
export function addDisclaimer(source: Buffer, disclaimer: string): Buffer | undefined {
  const text = disclaimer.replace(/\r?\n/g, '\n').trim();
  if (!text) return undefined;
  return editTextBodies(source, {
    text: (original) => withText(original, text),
    html: (original) => withHtml(original, text),
  });
}

function withText(original: string, disclaimer: string): string {
  const body = original.replace(/(\r?\n)*$/, '');
  const ending = /\r?\n$/.test(original) ? '\r\n' : '';
  return `${body}\r\n\r\n${disclaimer.replace(/\n/g, '\r\n')}${ending}`;
}

function withHtml(original: string, disclaimer: string): string {
  const block = `<div class="disclaimer"><p>${escapeHtml(disclaimer)}</p></div>\r\n`;
  const close = original.search(/<\/body\s*>/i);
  if (close < 0) return `${original.replace(/(\r?\n)*$/, '')}\r\n${block}`;
  return `${original.slice(0, close)}${block}${original.slice(close)}`;
}
