// One message through the filter, whichever door it came in by (SMTP on 25/587/465, JMAP's
// EmailSubmission): the scan of Holdfast's header lines and the content (when within max_scan_size),
// the plan for each local recipient's copy, the strike against a signed-in sender who sent spam, and
// then either the refusal of the whole message or where each copy goes. Copies for quarantine are
// held here; the caller commits the INBOX's and Junk's to the queue (Junk's with the junk marker and,
// for rspamd's "rewrite subject", the content with the subject rspamd wrote).
import type { Directory } from '../directory/directory.ts';
import type { Logger } from '../logging/logger.ts';
import { junkMarker } from '../mailbox/junk-marker.ts';
import type { BlobRef } from '../store/blobs/blob-store.ts';
import { readBlob } from '../store/blobs/blob-store.ts';
import { type InlineBlob, inlineBlob, inlineBlobLimit } from '../store/blobs/inline-blob.ts';
import { isStoreUnavailable } from '../store/store-unavailable.ts';
import type { FilteredRecipient, MessageFilter } from './message-filter.ts';
import { type HeldMessage, holdMessage, type QuarantineStore } from './quarantine.ts';
import type { ScanEnvelope } from './rspamd-client.ts';
import { withSubject } from './subject-rewrite.ts';
import type { FilterRefusal } from './verdict.ts';

export interface MessageToFilter<R extends { recipient: string; route: string }> {
  /** Holdfast's header lines so far (its Received line on top), sent to the scanners with the message. */
  prefix: string;
  /** The message as received: its blob, and its bytes when they are in memory. */
  message: { hash: string; size: number; data?: Buffer };
  envelope: ScanEnvelope;
  /** Every recipient's copy; local ones (route "local") have mailboxes the plan may place them in. */
  recipients: R[];
  /** The signed-in sender (submission): spam they send is a strike against them. */
  submittedBy?: { principalId: number; tenantId: number; address: string };
  subject: string | null;
  messageId: string | null;
  now: number;
}

export interface FilterMessageDeps {
  store: QuarantineStore;
  /** Finds the mailbox behind a local recipient's address (a group is none). */
  routing: Pick<Directory, 'resolveAddress'>;
  log?: Logger;
}

/** A Junk copy's own content: the message with the subject rspamd wrote for "rewrite subject". */
export interface RewrittenContent {
  blob: BlobRef;
  /** Set when small enough to be committed with the queue entry, as intake's spool keeps it. */
  inline?: InlineBlob;
  /** The bytes, for the copy's metadata. */
  data: Buffer;
}

export type FilterResult<R> =
  | { refusal: FilterRefusal }
  | {
      refusal?: undefined;
      /** The prefix with the X-Holdfast-Scan line under Holdfast's Received line: for the INBOX copies. */
      prefix: string;
      /** The same with the junk marker: for the Junk copies. */
      junkPrefix: string;
      /** Copies for the INBOX (and every remote recipient's). */
      inbox: R[];
      /** Copies for the Junk folder: committed with the junk marker. */
      junk: R[];
      /** What the Junk copies contain instead of the message, when rspamd rewrote the subject. */
      junkContent?: RewrittenContent;
    };

/**
 * Scans the message and applies the verdict: the refusal of the whole message (nothing is kept), or
 * the copies for the INBOX and Junk (those for quarantine are held before this returns).
 */
export async function filterMessage<R extends { recipient: string; route: string }>(
  filter: MessageFilter,
  deps: FilterMessageDeps,
  message: MessageToFilter<R>,
): Promise<FilterResult<R>> {
  const { envelope } = message;
  const size = message.message.size + Buffer.byteLength(message.prefix);
  const data =
    size > filter.settings.maxScanSize
      ? undefined
      : (message.message.data ?? (await readBlob(deps.store.blobs, message.message.hash)));
  const outcome = await filter.scan(data && Buffer.concat([Buffer.from(message.prefix), data]), envelope);

  const mailboxes = new Map<string, FilteredRecipient>();
  for (const r of message.recipients) {
    if (r.route !== 'local' || mailboxes.has(r.recipient)) continue;
    const resolved = await deps.routing.resolveAddress(r.recipient).catch(unlessUnavailable);
    if (resolved && resolved.principal.kind !== 'group')
      mailboxes.set(r.recipient, {
        address: r.recipient,
        principalId: resolved.principal.id,
        tenantId: resolved.principal.tenantId,
      });
  }
  const plan = await filter.plan(outcome, envelope.sender, [...mailboxes.values()]);
  if (message.submittedBy) await filter.judgeSender(message.submittedBy, outcome);
  if (plan.refusal) {
    deps.log?.info(
      {
        session: envelope.queueId,
        client: envelope.clientIp,
        sender: envelope.sender,
        reply: `${plan.refusal.code} ${plan.refusal.enhanced} ${plan.refusal.text}`,
      },
      'filtering: message refused',
    );
    return { refusal: plan.refusal };
  }

  const received = firstField(message.prefix);
  const below = `${plan.header}\r\n${message.prefix.slice(received.length)}`;
  const prefix = `${received}${below}`;
  const held: HeldMessage[] = [];
  const inbox: R[] = [];
  const junk: R[] = [];
  for (const r of message.recipients) {
    const placed = plan.dispositions.get(r.recipient);
    const mailbox = r.route === 'local' ? mailboxes.get(r.recipient) : undefined;
    if (placed?.to === 'quarantine' && mailbox)
      held.push({
        tenantId: mailbox.tenantId,
        principalId: mailbox.principalId,
        recipient: r.recipient,
        sender: envelope.sender,
        subject: message.subject,
        messageId: message.messageId,
        prefix,
        reason: placed.reason,
        detail: placed.detail,
        score: outcome.spam?.score ?? null,
        clientIp: envelope.clientIp,
      });
    else if (placed && placed.to !== 'inbox') junk.push(r);
    else inbox.push(r);
  }
  if (held.length) {
    const ids = await holdMessage(
      deps.store,
      { hash: message.message.hash, size: message.message.size, data: message.message.data },
      held,
      message.now,
      filter.settings.quarantineRetentionMs,
    );
    deps.log?.info(
      {
        quarantineIds: ids,
        sender: envelope.sender,
        recipients: held.map((h) => h.recipient),
        reason: held[0]!.reason,
        session: envelope.queueId,
      },
      'mail quarantined',
    );
  }

  // rspamd's "rewrite subject": the Junk copies carry the subject it wrote (the INBOX's, an allowed
  // sender's, and the held ones keep the sender's).
  let junkContent: RewrittenContent | undefined;
  const rewritten = outcome.spam?.action === 'rewrite subject' ? outcome.spam.subject : undefined;
  if (junk.length && rewritten !== undefined && data) {
    const content = withSubject(data, rewritten);
    if (content) junkContent = await stored(deps.store, content);
  }
  return { prefix, junkPrefix: `${received}${junkMarker}\r\n${below}`, inbox, junk, junkContent };
}

/** Content kept as intake's spool keeps it: inline with the queue entry when small, else in the blob store. */
async function stored(store: QuarantineStore, data: Buffer): Promise<RewrittenContent> {
  if (data.length <= inlineBlobLimit) {
    const inline = inlineBlob(data);
    return { blob: { hash: inline.hash, size: inline.size }, inline, data };
  }
  return { blob: await store.blobs.put(data), data };
}

/** The prefix's first field (Holdfast's Received line with its continuation lines). */
function firstField(prefix: string): string {
  const end = /\r\n(?![ \t])/.exec(prefix);
  return end ? prefix.slice(0, end.index + 2) : prefix;
}

/** Only a store that is not answering may escape a lookup (it becomes 451 4.3.0, never a refusal). */
function unlessUnavailable(error: unknown): undefined {
  if (isStoreUnavailable(error)) throw error;
  return undefined;
}
