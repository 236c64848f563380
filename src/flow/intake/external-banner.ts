// The organisation's warning on mail from outside (`holdfast rules external-banner`): at local
// delivery, a message to a tenant's user whose envelope sender is not at one of the tenant's domains
// (mail that came in over SMTP from elsewhere, or that a user of another tenant sent) gets the
// tenant's text at the top of its text/plain body and, as an escaped paragraph, at the start of the
// HTML body's <body>, through mime-text-edit.ts as the disclaimer is added: signed or encrypted mail
// is left as it is. The message also gets `X-Holdfast-External: yes` (intake removes the field from
// what arrives, so only ours is ever seen). A message already carrying the banner (the field, or the
// text at the start of its body: forwarded on by a rule, or back from another server) gets no second.
//
// Done at delivery rather than intake because one message may reach several tenants, each with its
// own text or none; the changed message is a new content, stored like one editheader makes.
import type { Kysely } from 'kysely';
import type { Directory } from '../../directory/directory.ts';
import { tenantExternalBanners } from '../../directory/tenant-settings.ts';
import type { Logger } from '../../logging/logger.ts';
import { type BlobStore, readBlob } from '../../store/blobs/blob-store.ts';
import type { Database } from '../../store/schema.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import type { QueuedMessage } from '../queue/claimed-recipient.ts';
import type { LocalRecipient } from '../queue/outcomes.ts';
import { editTextBodies, escapeHtml, isSealed } from './mime-text-edit.ts';

export const defaultBannerText =
  'CAUTION: This message came from outside the organisation. Do not click links or open attachments unless you know the sender and the content is safe.';

/** The field that marks a message the banner was put on (clients may style it). */
export const externalField = 'X-Holdfast-External';

const bannerClass = 'holdfast-external';
const bannerStyle =
  'border:1px solid #c8a400;background:#fff8c5;color:#1f1f1f;padding:6px 8px;margin:0 0 12px 0;font-family:sans-serif;font-size:13px';

/** Queue sources of mail a person sent (over SMTP, from outside or submitted here); not our own notices. */
const sentMail = new Set(['mx', 'submission']);

export interface ExternalBannerDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  directory: Pick<Directory, 'findDomain'>;
  log?: Logger;
}

/** The recipients, with the message changed for those whose tenant puts its banner on mail from outside. */
export async function withExternalBanners(
  deps: ExternalBannerDeps,
  ready: LocalRecipient[],
): Promise<LocalRecipient[]> {
  const candidates = ready.filter((r) => sentMail.has(r.recipient.message.source));
  if (candidates.length === 0) return ready;
  const banners = await tenantExternalBanners(
    deps.db,
    candidates.map((r) => r.mailbox.tenantId),
  );
  if (banners.size === 0) return ready;
  const owners = new Map<string, number | undefined>();
  const made = new Map<string, QueuedMessage | undefined>();
  const out: LocalRecipient[] = [];
  for (const local of ready) {
    const { message } = local.recipient;
    const tenantId = local.mailbox.tenantId;
    const text = banners.get(tenantId);
    if (!text || !sentMail.has(message.source) || (await ownerOf(deps, owners, message.sender)) === tenantId) {
      out.push(local);
      continue;
    }
    const key = `${message.id}:${message.blobHash}:${tenantId}`;
    if (!made.has(key)) made.set(key, await bannered(deps, message, text));
    const changed = made.get(key);
    out.push(changed ? { ...local, recipient: { ...local.recipient, message: changed } } : local);
  }
  return out;
}

/** The tenant owning the sender's domain (undefined for the null sender or a domain not ours). */
async function ownerOf(deps: ExternalBannerDeps, owners: Map<string, number | undefined>, sender: string) {
  const domain = sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
  if (!sender.includes('@') || !domain) return undefined;
  if (!owners.has(domain))
    owners.set(
      domain,
      await deps.directory.findDomain(domain).then(
        (owner) => owner?.tenantId,
        (error: unknown) => {
          if (isStoreUnavailable(error)) throw error;
          return undefined;
        },
      ),
    );
  return owners.get(domain);
}

/** The message with the banner, stored; undefined when it stays as it is (signed, bannered already). */
async function bannered(deps: ExternalBannerDeps, message: QueuedMessage, text: string) {
  try {
    const changed = addExternalBanner(await readBlob(deps.blobs, message.blobHash), text);
    if (!changed) return undefined;
    const blob = await deps.blobs.put(changed);
    return { ...message, blobHash: blob.hash, size: blob.size + Buffer.byteLength(message.prefix) };
  } catch (error) {
    if (isStoreUnavailable(error)) throw error;
    // The warning is a courtesy: a message it cannot be put on is delivered as it came.
    deps.log?.warn({ queueId: message.id, err: error }, 'rules: external banner not added; delivered as it came');
    return undefined;
  }
}

/**
 * The message with the banner at the top of its text and HTML bodies and the X-Holdfast-External
 * field; undefined when it is signed or encrypted, or carries the field already. A body that starts
 * with the banner already keeps the one it has.
 */
export function addExternalBanner(source: Buffer, banner: string): Buffer | undefined {
  const text = banner.replace(/\r?\n/g, '\n').trim();
  if (!text) return undefined;
  const headerEnd = source.indexOf('\r\n\r\n');
  const header = source.subarray(0, headerEnd < 0 ? source.length : headerEnd).toString('latin1');
  if (new RegExp(`^${externalField}:`, 'im').test(header) || isSealed(source)) return undefined;
  const firstLine = text.split('\n')[0]!.trim();
  const block = `<p class="${bannerClass}" style="${bannerStyle}">${escapeHtml(text)}</p>\r\n`;
  const body =
    editTextBodies(source, {
      text: (original) =>
        original.trimStart().startsWith(firstLine) ? undefined : `${text.replace(/\n/g, '\r\n')}\r\n\r\n${original}`,
      html: (original) => {
        const open = /<body\b[^>]*>/i.exec(original) ?? /<html\b[^>]*>/i.exec(original);
        const at = open ? open.index + open[0].length : 0;
        if (original.slice(at).trimStart().startsWith(`<p class="${bannerClass}"`)) return undefined;
        return `${original.slice(0, at)}${open ? '\r\n' : ''}${block}${original.slice(at)}`;
      },
    }) ?? source;
  return Buffer.concat([Buffer.from(`${externalField}: yes\r\n`, 'latin1'), body]);
}
