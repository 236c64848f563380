// What the queue holds for a set of domains, as continuity mode (src/continuity/) asks it: the
// recipients to copy into mailboxes during an event, releasing the backlog oldest first when the
// upstream is back, and how much of it still waits. Queue SQL stays here, with the queue's tables.
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';

const waitingStates = ['queued', 'inflight', 'deferred'] as const;

export interface BacklogRecipient {
  id: number;
  messageId: number;
  recipient: string;
  createdAt: number;
  message: { blobHash: string; prefix: string; size: number; sender: string; receivedAt: number };
}

/**
 * Remote recipients in `domains` with an id above `afterId`, in id order, that are still waiting or
 * were queued at `since` or later: what an event copies into mailboxes.
 */
export async function recipientsToCopy(
  db: Kysely<Database>,
  query: { domains: string[]; afterId: number; since: number; limit: number },
): Promise<BacklogRecipient[]> {
  if (query.domains.length === 0) return [];
  const rows = await db
    .selectFrom('queue_recipients as r')
    .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
    .select([
      'r.id',
      'r.message_id',
      'r.recipient',
      'r.created_at',
      'm.blob_hash',
      'm.prefix',
      'm.size',
      'm.sender',
      'm.received_at',
    ])
    .where('r.route', '=', 'remote')
    .where('r.domain', 'in', query.domains)
    .where('r.id', '>', query.afterId)
    .where((eb) => eb.or([eb('r.state', 'in', waitingStates), eb('r.created_at', '>=', query.since)]))
    .orderBy('r.id')
    .limit(query.limit)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    messageId: Number(r.message_id),
    recipient: r.recipient,
    createdAt: Number(r.created_at),
    message: {
      blobHash: r.blob_hash,
      prefix: r.prefix,
      size: Number(r.size),
      sender: r.sender,
      receivedAt: Number(r.received_at),
    },
  }));
}

/** The id below the oldest waiting remote recipient of `domains` (else the newest id): where copying starts. */
export async function copyStart(db: Kysely<Database>, domains: string[]): Promise<number> {
  if (domains.length === 0) return 0;
  const oldest = await db
    .selectFrom('queue_recipients')
    .select((eb) => eb.fn.min<number>('id').as('id'))
    .where('route', '=', 'remote')
    .where('domain', 'in', domains)
    .where('state', 'in', waitingStates)
    .executeTakeFirst();
  if (oldest?.id !== null && oldest?.id !== undefined) return Number(oldest.id) - 1;
  const newest = await db
    .selectFrom('queue_recipients')
    .select((eb) => eb.fn.max<number>('id').as('id'))
    .executeTakeFirst();
  return Number(newest?.id ?? 0);
}

/**
 * The upstream is back: deferred mail of `domains` is due now instead of at its next retry, and due
 * in the order it arrived (its next attempt is set to when it was received, which the claims read
 * oldest first). How fast it goes is the runner's per-destination concurrency's business.
 */
export async function releaseOldestFirst(db: Kysely<Database>, domains: string[], now: number): Promise<number> {
  if (domains.length === 0) return 0;
  const result = await db
    .updateTable('queue_recipients')
    .set((eb) => ({
      next_attempt_at: eb
        .selectFrom('queue_messages as m')
        .select('m.received_at')
        .whereRef('m.id', '=', 'queue_recipients.message_id'),
      updated_at: now,
    }))
    .where('route', '=', 'remote')
    .where('domain', 'in', domains)
    .where('state', 'in', ['queued', 'deferred'])
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface BacklogCounts {
  /** Waiting (queued, in flight, deferred) recipients queued before `before`. */
  waiting: number;
  /** Recipients of the domains delivered since `since`. */
  deliveredSince: number;
  /** Recipients of the domains that failed (bounced or expired) since `since`. */
  failedSince: number;
}

/**
 * `afterId` bounds the finished recipients counted to those with a larger id: without it the count
 * reads every finished recipient of the domains kept (`queue.keep_finished`, 30 days — hundreds of
 * thousands at a busy gateway). An event's copy cursor is such a bound: whatever finished after the
 * event began was waiting at its start or came later, so its id is above the cursor.
 */
export async function backlogCounts(
  db: Kysely<Database>,
  domains: string[],
  window: { before: number; since: number; afterId?: number },
): Promise<BacklogCounts> {
  if (domains.length === 0) return { waiting: 0, deliveredSince: 0, failedSince: 0 };
  const waiting = await db
    .selectFrom('queue_recipients')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('route', '=', 'remote')
    .where('domain', 'in', domains)
    .where('state', 'in', waitingStates)
    .where('created_at', '<=', window.before)
    .executeTakeFirst();
  const finished = await db
    .selectFrom('queue_recipients')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('route', '=', 'remote')
    .where('domain', 'in', domains)
    .where('state', 'in', ['delivered', 'failed'])
    .where('last_attempt_at', '>=', window.since)
    .$if(window.afterId !== undefined, (q) => q.where('id', '>', window.afterId!))
    .groupBy('state')
    .execute();
  const count = (state: string) => Number(finished.find((r) => r.state === state)?.n ?? 0);
  return { waiting: Number(waiting?.n ?? 0), deliveredSince: count('delivered'), failedSince: count('failed') };
}
