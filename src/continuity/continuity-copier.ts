// During a continuity event, the mail queued for the upstream is also delivered into the users'
// Holdfast mailboxes at once, so they can read it while the upstream is down; the queue entry stays
// and goes upstream on recovery. Each queued recipient is copied once per mailbox: the copy is
// recorded (continuity_copies, keyed by queue recipient and mailbox) in the same transaction as the
// append, and the append carries the delivery key "continuity:<queue recipient>", so a crash, a
// second node doing the same, or a rescan never adds a second copy.
import type { Kysely } from 'kysely';
import type { Directory, Principal } from '../directory/directory.ts';
import { parseAddress } from '../directory/names.ts';
import { recipientsToCopy, type BacklogRecipient } from '../flow/queue/domain-backlog.ts';
import type { Logger } from '../logging/logger.ts';
import type { MailboxChange } from '../mailbox/change-feed.ts';
import { deliver } from '../mailbox/delivery.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { Database } from '../store/schema.ts';
import type { ContinuityEvent, ContinuityEvents } from './continuity-events.ts';

export interface CopierDeps {
  db: Kysely<Database>;
  directory: Directory;
  events: ContinuityEvents;
  /** Announces new messages to IDLE sessions (mailbox/change-feed.ts). */
  publish(change: MailboxChange): void;
  logger: Logger;
  now(): number;
}

/** Recipients looked at per transaction. */
const batchSize = 200;
/**
 * The cursor passes a recipient only once it is this old: on PostgreSQL an id is taken before its
 * transaction commits, so a lower id can appear after a higher one; none takes this long.
 */
const settleMs = 10_000;
const mailboxKinds = new Set(['user', 'shared', 'room', 'equipment']);

/** Copies what the event has not copied yet; returns how many copies it made. */
export async function copyForEvent(deps: CopierDeps, event: ContinuityEvent, domains: string[]): Promise<number> {
  let cursor = event.copyCursor;
  let copied = 0;
  for (;;) {
    const candidates = await recipientsToCopy(deps.db, {
      domains,
      afterId: cursor,
      since: event.startedAt,
      limit: batchSize,
    });
    if (candidates.length === 0) break;
    copied += await copyBatch(deps, event, candidates);
    // Advance over the settled prefix only; newer ones are looked at again (and skipped if copied).
    const settled = deps.now() - settleMs;
    let next = cursor;
    for (const c of candidates) {
      if (c.createdAt > settled) break;
      next = c.id;
    }
    if (next > cursor) await deps.events.setCursor(event.id, next);
    if (candidates.length < batchSize) break;
    cursor = candidates.at(-1)!.id;
  }
  return copied;
}

async function copyBatch(deps: CopierDeps, event: ContinuityEvent, candidates: BacklogRecipient[]): Promise<number> {
  const targets: { candidate: BacklogRecipient; mailbox: Principal }[] = [];
  const resolved = new Map<string, Principal[]>();
  for (const candidate of candidates) {
    const key = candidate.recipient.toLowerCase();
    if (!resolved.has(key)) resolved.set(key, await mailboxesOf(deps.directory, candidate.recipient));
    for (const mailbox of resolved.get(key)!) targets.push({ candidate, mailbox });
  }
  if (targets.length === 0) return 0;
  const now = deps.now();
  const { changes, full } = await groupCommit(deps.db, async (trx) => {
    const changes: MailboxChange[] = [];
    const full: string[] = [];
    // Claim each copy first: only those this transaction inserted are delivered.
    const claimed = await trx
      .insertInto('continuity_copies')
      .values(
        targets.map(({ candidate, mailbox }) => ({
          queue_recipient_id: candidate.id,
          principal_id: mailbox.id,
          event_id: event.id,
          queue_message_id: candidate.messageId,
          copied_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['queue_recipient_id', 'principal_id']).doNothing())
      .returning(['queue_recipient_id', 'principal_id'])
      .execute();
    const mine = new Set(claimed.map((c) => `${c.queue_recipient_id}/${c.principal_id}`));
    const todo = targets.filter((t) => mine.has(`${t.candidate.id}/${t.mailbox.id}`));
    const results = await deliver(
      trx,
      todo.map(({ candidate, mailbox }) => ({
        recipient: mailbox,
        message: candidate.message,
        key: `continuity:${candidate.id}`,
      })),
      now,
    );
    for (const [i, result] of results.entries()) {
      const { candidate, mailbox } = todo[i]!;
      if (!result.delivered) {
        full.push(mailbox.address);
        continue;
      }
      if (result.change) changes.push(result.change);
      await trx
        .updateTable('continuity_copies')
        .set({ mailbox_id: result.change?.mailboxId ?? null, uid: result.uid })
        .where('queue_recipient_id', '=', candidate.id)
        .where('principal_id', '=', mailbox.id)
        .execute();
    }
    return { changes, full };
  });
  for (const change of changes) deps.publish(change);
  if (full.length)
    deps.logger.warn(
      { mailboxes: [...new Set(full)], event: event.id },
      'continuity: mailboxes over quota got no copy (the mail still goes upstream)',
    );
  return changes.length;
}

/**
 * The mailboxes an address reaches here: itself (or user@ for user+tag@), or a group's members
 * that have a mailbox. An address Holdfast does not know gets no copy; its mail still goes upstream.
 */
async function mailboxesOf(directory: Directory, address: string): Promise<Principal[]> {
  let parsed: ReturnType<typeof parseAddress>;
  try {
    parsed = parseAddress(address);
  } catch {
    return [];
  }
  const plus = parsed.local.indexOf('+');
  const found =
    (await directory.resolveAddress(parsed.address)) ??
    (plus > 0 ? await directory.resolveAddress(`${parsed.local.slice(0, plus)}@${parsed.domain}`) : undefined);
  if (!found) return [];
  if (mailboxKinds.has(found.principal.kind)) return [found.principal];
  if (found.principal.kind !== 'group') return [];
  const tenant = await directory.tenantOfDomain(parsed.domain);
  const members: Principal[] = [];
  for (const member of await tenant.expandGroup(found.principal.address)) {
    const target = await directory.resolveAddress(member);
    if (target && mailboxKinds.has(target.principal.kind) && !members.some((m) => m.id === target.principal.id))
      members.push(target.principal);
  }
  return members;
}
