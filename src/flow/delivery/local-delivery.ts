// Local delivery: into the recipients' INBOXes. A batch of recipients is written in one transaction
// (one commit for many deliveries), and each message row carries its queue recipient as delivery
// key and is committed with the queue's "delivered" state, so a redelivery after a crash can never
// add a second copy.
import type { Kysely } from 'kysely';
import { formatSize } from '../../config/size.ts';
import type { Directory, Principal, ResolvedAddress } from '../../directory/directory.ts';
import { appendMessage } from '../../mailbox/append.ts';
import type { ChangeFeed, MailboxChange } from '../../mailbox/change-feed.ts';
import { ensureDefaultFolders, findFolder, lockFolders, usedBytes } from '../../mailbox/folders.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import type { Dialect } from '../../store/database.ts';
import type { Database } from '../../store/schema.ts';
import { computeMetadata, storeMetadata } from '../../mailbox/message-metadata.ts';
import type { Scheduler } from '../../calendar/scheduling/scheduler.ts';
import type { MimePart } from '../../message/mime-tree.ts';
import { decodeCharset, decodeTransfer } from '../../message/part-content.ts';
import type { Logger } from '../../logging/logger.ts';
import { readBlob } from '../../store/blobs/blob-store.ts';
import { batches } from '../../store/batches.ts';
import { groupCommit, relaxedCommit } from '../../store/commit-modes.ts';
import { LeaseLostError, type ClaimedRecipient, type Outcome, type Queue } from '../queue/queue.ts';

export interface LocalDeliveryDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  directory: Directory;
  queue: Queue;
  changes: ChangeFeed;
  /** Applies iMIP mail (invitations, answers) to the recipients' calendars, when set. */
  scheduler?: Scheduler;
  log?: Logger;
  now(): number;
}

interface Ready {
  recipient: ClaimedRecipient;
  principal: Principal;
}

export async function deliverLocally(deps: LocalDeliveryDeps, recipients: ClaimedRecipient[]): Promise<void> {
  const failed: Outcome[] = [];
  const ready: Ready[] = [];
  const usage = new Map<number, number>();
  // Each address is read once per batch (a burst of mail to one mailbox is one lookup), and fresh:
  // an account removed since intake accepted the mail is not delivered to.
  const addresses = new Map<string, ResolvedAddress | undefined>();
  for (const recipient of recipients) {
    if (!addresses.has(recipient.recipient)) addresses.set(recipient.recipient, await deps.directory.resolveAddress(recipient.recipient));
    const resolved = addresses.get(recipient.recipient);
    if (!resolved || resolved.principal.kind === 'group') {
      failed.push({ recipient, reply: `550 5.1.1 <${recipient.recipient}>: no such mailbox here` });
      continue;
    }
    const { principal } = resolved;
    if (principal.quotaBytes !== null) {
      const used = usage.get(principal.id) ?? (await usedBytes(deps.db, principal.id));
      if (used + recipient.message.size > principal.quotaBytes) {
        failed.push({ recipient, reply: `552 5.2.2 <${recipient.recipient}>: mailbox full (quota ${formatSize(principal.quotaBytes)})` });
        continue;
      }
      usage.set(principal.id, used + recipient.message.size);
    }
    ready.push({ recipient, principal });
  }

  if (ready.length) {
    const trees = await mimeTrees(deps, [...new Set(ready.map((r) => r.recipient.message.blobHash))]);
    let changes: MailboxChange[];
    try {
      changes = await deliverBatch(deps, ready);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      // Some recipient of the batch was taken over by another worker: deliver the rest one by one.
      changes = [];
      for (const item of ready) {
        changes.push(...(await deliverBatch(deps, [item]).catch((e) => (e instanceof LeaseLostError ? [] : Promise.reject(e)))));
      }
    }
    for (const change of changes) deps.changes.publish(change);
    await applyCalendarMail(deps, ready, trees);
  }
  if (failed.length) await deps.queue.recordFailed(failed);
}

async function deliverBatch(deps: LocalDeliveryDeps, items: Ready[]): Promise<MailboxChange[]> {
  const now = deps.now();
  let outcomes: Outcome[] = [];
  const committed = await groupCommit(deps.db, async (trx) => {
    const changes: MailboxChange[] = [];
    outcomes = []; // the transaction may run again (transient conflicts)
    // Every INBOX of the batch is locked before the first append, in one order (see lockFolders):
    // batches running at once share INBOXes. Folders are created in principal order for the same reason.
    const inboxes = new Map<number, number>();
    for (const { principal } of [...items].sort((a, b) => a.principal.id - b.principal.id)) {
      if (inboxes.has(principal.id)) continue;
      await ensureDefaultFolders(trx, principal, now);
      inboxes.set(principal.id, (await findFolder(trx, principal.id, 'INBOX'))!.id);
    }
    await lockFolders(trx, [...inboxes.values()]);
    for (const { recipient, principal } of items) {
      const inbox = inboxes.get(principal.id)!;
      const headers = deliveryHeaders(recipient.message.sender, principal.address);
      const appended = await appendMessage(
        trx,
        {
          mailboxId: inbox,
          tenantId: principal.tenantId,
          blobHash: recipient.message.blobHash,
          prefix: headers + recipient.message.prefix,
          size: recipient.message.size + Buffer.byteLength(headers),
          internalDate: recipient.message.receivedAt,
          deliveryKey: `queue-recipient:${recipient.id}`,
        },
        now,
      );
      outcomes.push({ recipient, reply: `250 2.0.0 delivered to ${principal.address} INBOX (uid ${appended.uid})` });
      if (appended.added) changes.push({ tenantId: principal.tenantId, principalId: principal.id, mailboxId: inbox, kind: 'append', uid: appended.uid, modseq: appended.modseq });
    }
    // Throws LeaseLostError (rolling everything back) if a recipient's lease is no longer ours.
    await deps.queue.recordDelivered(outcomes, trx);
    return changes;
  });
  deps.queue.delivered(outcomes);
  return committed;
}

/**
 * What final delivery adds on top of the stored message (RFC 5321 §4.4, as Postfix's local(8)):
 * the envelope sender ("<>" for bounces), and the mailbox the message reached after alias and group
 * expansion. Kept in the row's prefix, so every copy still shares one blob and the delivery key
 * (the queue recipient) does not depend on them.
 */
export function deliveryHeaders(sender: string, mailbox: string): string {
  return `Return-Path: <${sender}>\r\nDelivered-To: ${mailbox}\r\n`;
}

/**
 * Mail with a text/calendar part carrying an iTIP METHOD updates the recipient's calendar too
 * (RFC 6047), on the word of the author intake proved (never the envelope, which anyone may write).
 * The message is in the INBOX already whatever happens here: a calendar that cannot or may not take
 * it is logged, never a reason to bounce or retry the mail.
 */
async function applyCalendarMail(deps: LocalDeliveryDeps, delivered: Ready[], trees: Map<string, MimePart>) {
  if (!deps.scheduler) return;
  const calendars = new Map<string, string | undefined>();
  for (const { recipient, principal } of delivered) {
    const hash = recipient.message.blobHash;
    try {
      if (!calendars.has(hash)) calendars.set(hash, await calendarPart(deps, hash, trees.get(hash)!));
      const calendar = calendars.get(hash);
      if (!calendar) continue;
      const outcome = await deps.scheduler.receiveImip(principal, calendar, recipient.message.verifiedFrom);
      deps.log?.info({ recipient: principal.address, sender: recipient.message.sender, outcome }, 'calendar: iMIP message applied');
    } catch (error) {
      deps.log?.warn({ recipient: principal.address, sender: recipient.message.sender, err: error }, 'calendar: iMIP message not applied');
    }
  }
}

/**
 * The MIME trees of contents (for calendar mail), read together from their stored metadata, which
 * also tells which have none yet. Envelope, structure and search text are computed once per content,
 * before the delivery commits: intake stores them for small messages; the others' are computed now.
 * Not fsync'd: they can be computed again, and the delivery that follows is (its sync covers this
 * commit too).
 */
async function mimeTrees(deps: LocalDeliveryDeps, hashes: string[]): Promise<Map<string, MimePart>> {
  const trees = new Map<string, MimePart>();
  for (const batch of batches(hashes)) {
    const rows = await deps.db.selectFrom('blob_metadata').select(['hash', 'tree']).where('hash', 'in', batch).execute();
    for (const row of rows) trees.set(row.hash, JSON.parse(row.tree));
  }
  for (const hash of hashes.filter((h) => !trees.has(h))) {
    const computed = computeMetadata(await readBlob(deps.blobs, hash));
    await relaxedCommit(deps.db, (trx) => storeMetadata(trx, deps.dialect, hash, computed, deps.now()));
    trees.set(hash, computed.metadata.tree);
  }
  return trees;
}

async function calendarPart(deps: LocalDeliveryDeps, hash: string, tree: MimePart): Promise<string | undefined> {
  const part = findCalendarPart(tree);
  if (!part) return undefined;
  const source = await readBlob(deps.blobs, hash);
  const bytes = decodeTransfer(part, source.subarray(part.bodyStart, part.end));
  return bytes && decodeCharset(bytes, part.params.charset);
}

function findCalendarPart(part: MimePart): MimePart | undefined {
  if (part.type === 'text' && part.subtype === 'calendar' && part.params.method) return part;
  for (const child of part.children ?? []) {
    const found = findCalendarPart(child);
    if (found) return found;
  }
  return undefined;
}
