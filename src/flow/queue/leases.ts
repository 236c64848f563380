// Leases and fencing. A claim gives a worker a lease on a recipient (owner + expiry); the worker
// renews it while it works, and a lease that runs out (its worker died or hung) goes back to
// waiting. Every outcome ends the lease in the same statement that records it, and only while the
// lease is still the claimant's: a worker whose lease was taken over cannot record a late result.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Config } from '../../config/schema.ts';
import { PreparedQuery, sqlFor } from '../../store/prepared-query.ts';
import type { Database, RecipientState } from '../../store/schema.ts';
import type { Outcome } from './claimed-recipient.ts';
import { isProcessAlive } from '../../processes.ts';

export interface LeaseDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'queue'>;
  now(): number;
}

/** A local delivery whose lease was taken over meanwhile: its transaction is rolled back. */
export class LeaseLostError extends Error {
  constructor() {
    super('the lease on this delivery was taken over by another worker');
  }
}

/** What an outcome sets besides the state (and the lease, which it ends); a field left out keeps its value. */
export interface OutcomeFields {
  lastReply: string;
  attempts?: number;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
}

/**
 * Leases that ran out go back to waiting, to be claimed like any other due work. Their old owner can
 * no longer record an outcome: the lease is not its own any more.
 */
export async function reclaimExpiredLeases(trx: Transaction<Database>, now: number) {
  await trx
    .updateTable('queue_recipients')
    .set({ state: 'queued', lease_owner: null, lease_expires_at: null, updated_at: now })
    .where('state', '=', 'inflight')
    .where('lease_expires_at', '<', now)
    .execute();
}

/** Extends the leases of work still in progress. */
export async function renewLeases(deps: LeaseDeps, owner: string, ids: number[]) {
  if (ids.length === 0) return;
  const now = deps.now();
  await deps.db
    .updateTable('queue_recipients')
    .set({ lease_expires_at: now + deps.config.queue.leaseMs })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'inflight')
    .execute();
}

/**
 * Takes back, at start, the work of processes that died holding leases: with a single node
 * (SQLite) every lease left over; with a shared database the leases of dead processes on this
 * host (owners are "<host>/<pid>/<random>"). Leases of other hosts run out by themselves.
 */
export async function releaseStaleLeases(deps: LeaseDeps, scope: { allOwners: boolean; host: string }) {
  const now = deps.now();
  let owners: string[] | undefined;
  if (!scope.allOwners) {
    const rows = await deps.db
      .selectFrom('queue_recipients')
      .select('lease_owner')
      .distinct()
      .where('state', '=', 'inflight')
      .where('lease_owner', 'like', `${scope.host}/%`)
      .execute();
    owners = rows.map((r) => r.lease_owner!).filter((owner) => !isProcessAlive(Number(owner.split('/')[1])));
    if (owners.length === 0) return 0;
  }
  const released = await deps.db
    .updateTable('queue_recipients')
    .set({ state: 'queued', lease_owner: null, lease_expires_at: null, next_attempt_at: now, updated_at: now })
    .where('state', '=', 'inflight')
    .$if(owners !== undefined, (q) => q.where('lease_owner', 'in', owners!))
    .executeTakeFirst();
  return Number(released.numUpdatedRows);
}

/**
 * Records outcomes and ends their leases (one statement for all), each only while its recipient's
 * lease is still the claimant's: if the lease expired and another worker took the recipient over,
 * that (late) outcome is dropped. Returns the outcomes recorded.
 */
export async function endLeases(
  trx: Transaction<Database>,
  outcomes: Outcome[],
  state: RecipientState,
  now: number,
  fields: (o: Outcome) => OutcomeFields,
): Promise<Outcome[]> {
  if (outcomes.length === 0) return [];
  const rows = outcomes.map((o) => {
    const f = fields(o);
    return [
      o.recipient.id,
      o.recipient.leaseOwner,
      f.lastReply,
      f.attempts ?? null,
      f.lastAttemptAt ?? null,
      f.nextAttemptAt ?? null,
    ];
  });
  const recorded = await recordOutcomes.rows(trx, { state, now, rows: JSON.stringify(rows) });
  const ids = new Set(recorded.map((r) => Number(r.id)));
  return outcomes.filter((o) => ids.has(o.recipient.id));
}

/**
 * Records outcomes given as one JSON array of [id, lease owner, reply, attempts, last attempt,
 * next attempt] (null: keep the value), where the lease owner is still the one given. One shape for
 * any number of outcomes, prepared once; on PostgreSQL one round trip instead of one per recipient.
 */
const recordOutcomes = new PreparedQuery<{ state: RecipientState; now: number; rows: string }, { id: number }>(
  (db, arg) =>
    sqlFor(db, {
      postgres: sql`update queue_recipients as r
      set state = ${arg('state')}, lease_owner = null, lease_expires_at = null, updated_at = ${arg('now')},
        last_reply = v.value ->> 2,
        attempts = coalesce((v.value ->> 3)::integer, r.attempts),
        last_attempt_at = coalesce((v.value ->> 4)::bigint, r.last_attempt_at),
        next_attempt_at = coalesce((v.value ->> 5)::bigint, r.next_attempt_at)
      from json_array_elements(${arg('rows')}::json) as v(value)
      where r.id = (v.value ->> 0)::bigint and r.lease_owner is not distinct from v.value ->> 1
      returning r.id`,
      sqlite: sql`update queue_recipients
      set state = ${arg('state')}, lease_owner = null, lease_expires_at = null, updated_at = ${arg('now')},
        last_reply = v.value ->> 2,
        attempts = coalesce(v.value ->> 3, queue_recipients.attempts),
        last_attempt_at = coalesce(v.value ->> 4, queue_recipients.last_attempt_at),
        next_attempt_at = coalesce(v.value ->> 5, queue_recipients.next_attempt_at)
      from json_each(${arg('rows')}) as v
      where queue_recipients.id = v.value ->> 0 and queue_recipients.lease_owner is v.value ->> 1
      returning queue_recipients.id`,
    }),
);
