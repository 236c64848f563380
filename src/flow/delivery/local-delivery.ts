// Local delivery: into the recipients' INBOXes. Addresses are resolved here (fresh: an account
// removed since intake accepted the mail is not delivered to); the queue's outcome code then
// appends (mailbox/delivery.ts: default folders, quota, delivery key) and marks the recipients
// delivered in one transaction, so a redelivery after a crash can never add a second copy. Calendar
// mail is applied once the messages are in.
import type { Kysely } from 'kysely';
import type { Directory, ResolvedAddress } from '../../directory/directory.ts';
import type { ChangeFeed } from '../../mailbox/change-feed.ts';
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
import { relaxedCommit } from '../../store/commit-modes.ts';
import type { ClaimedRecipient, Outcome } from '../queue/claimed-recipient.ts';
import type { LocalRecipient } from '../queue/outcomes.ts';
import type { Queue } from '../queue/queue.ts';
import type { SieveDelivery } from '../sieve-delivery.ts';
import { holdBlockedAttachments } from '../intake/attachment-filter.ts';
import { withExternalBanners } from '../intake/external-banner.ts';
import type { VacationResponder } from '../vacation-responder.ts';

export interface LocalDeliveryDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  directory: Directory;
  queue: Queue;
  changes: ChangeFeed;
  /** Applies iMIP mail (invitations, answers) to the recipients' calendars, when set. */
  scheduler?: Scheduler;
  /** Sends the recipients' automatic replies (vacation responses), when set. */
  vacation?: VacationResponder;
  /** Runs the recipients' Sieve scripts, when set: their folders, redirects, rejections and replies. */
  sieve?: SieveDelivery;
  /** How long copies held for a blocked attachment stay in quarantine (filtering.quarantine_retention). */
  quarantineRetentionMs?: number;
  log?: Logger;
  now(): number;
}

export async function deliverLocally(deps: LocalDeliveryDeps, recipients: ClaimedRecipient[]): Promise<void> {
  const failed: Outcome[] = [];
  const ready: LocalRecipient[] = [];
  // Each address is read once per batch (a burst of mail to one mailbox is one lookup).
  const addresses = new Map<string, ResolvedAddress | undefined>();
  for (const recipient of recipients) {
    if (!addresses.has(recipient.recipient))
      addresses.set(recipient.recipient, await deps.directory.resolveAddress(recipient.recipient));
    const resolved = addresses.get(recipient.recipient);
    if (!resolved || resolved.principal.kind === 'group') {
      failed.push({ recipient, reply: `550 5.1.1 <${recipient.recipient}>: no such mailbox here` });
      continue;
    }
    ready.push({ recipient, mailbox: resolved.principal });
  }

  if (ready.length) {
    // The organisation's blocked attachment types hold copies in quarantine (mail that did not pass
    // SMTP intake for them); then its warning on mail from outside goes in: its rules and the user's see it.
    const { deliver: passed, held } = await holdBlockedAttachments(
      { ...deps, treesOf: (hashes) => mimeTrees(deps, hashes) },
      ready,
    );
    const bannered = await withExternalBanners(deps, passed);
    const decided = deps.sieve ? await deps.sieve.decide(bannered) : { deliver: bannered, rejected: [], replies: [] };
    decided.deliver.push(...held);
    failed.push(...decided.rejected);
    // The contents as received, and as editheader changed them (their metadata is stored here too).
    const hashes = decided.deliver.flatMap(({ recipient, filed }) =>
      filed?.content ? [recipient.message.blobHash, filed.content.blobHash] : [recipient.message.blobHash],
    );
    const trees = await mimeTrees(deps, [...new Set(hashes)]);
    // Mail the rules filed is delivered in a transaction of its own (filed-delivery.ts), the rest as always.
    const delivered: LocalRecipient[] = [];
    for (const group of [decided.deliver.filter((r) => !r.filed), decided.deliver.filter((r) => r.filed)]) {
      if (group.length === 0) continue;
      const result = await deps.queue.deliverLocally(group);
      for (const change of result.changes) deps.changes.publish(change);
      delivered.push(...result.delivered);
    }
    // Only what was stored somewhere (not discarded, not only redirected) is calendar mail or answered.
    const stored = delivered.filter((r) => !r.filed || r.filed.placements.length > 0);
    await applyCalendarMail(deps, stored, trees);
    // After the commit, like calendar mail: a reply that fails is logged, the delivery stands. A
    // script's vacation action answers instead of the response set through JMAP.
    const answeredBySieve = new Set(decided.replies.map((r) => r.recipient.recipient.id));
    const committed = new Set(delivered.map((r) => r.recipient.id));
    for (const { recipient, vacation } of decided.replies)
      if (committed.has(recipient.recipient.id))
        await deps.vacation?.answerSieve(recipient.mailbox, recipient.recipient.message, vacation, deps.now());
    await deps.vacation?.answer(
      stored
        .filter((r) => !answeredBySieve.has(r.recipient.id))
        .map(({ recipient, mailbox }) => ({ mailbox, message: recipient.message })),
    );
  }
  if (failed.length) await deps.queue.recordFailed(failed);
}

/**
 * Mail with a text/calendar part carrying an iTIP METHOD updates the recipient's calendar too
 * (RFC 6047), on the word of the author intake proved (never the envelope, which anyone may write).
 * The message is in the INBOX already whatever happens here: a calendar that cannot or may not take
 * it is logged, never a reason to bounce or retry the mail.
 */
async function applyCalendarMail(deps: LocalDeliveryDeps, delivered: LocalRecipient[], trees: Map<string, MimePart>) {
  if (!deps.scheduler) return;
  const calendars = new Map<string, string | undefined>();
  for (const { recipient, mailbox } of delivered) {
    const hash = recipient.message.blobHash;
    try {
      if (!calendars.has(hash)) calendars.set(hash, await calendarPart(deps, hash, trees.get(hash)!));
      const calendar = calendars.get(hash);
      if (!calendar) continue;
      const outcome = await deps.scheduler.receiveImip(mailbox, calendar, recipient.message.verifiedFrom);
      deps.log?.info(
        { recipient: mailbox.address, sender: recipient.message.sender, outcome },
        'calendar: iMIP message applied',
      );
    } catch (error) {
      deps.log?.warn(
        { recipient: mailbox.address, sender: recipient.message.sender, err: error },
        'calendar: iMIP message not applied',
      );
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
    const rows = await deps.db
      .selectFrom('blob_metadata')
      .select(['hash', 'tree'])
      .where('hash', 'in', batch)
      .execute();
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
