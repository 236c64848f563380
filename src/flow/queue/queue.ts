// The queue: per-recipient delivery state with leases. Workers claim due recipients (a lease: owner
// + expiry); a crashed worker's lease expires and its work is claimed again. Outcomes (delivered,
// deferred on the retry schedule, failed with a DSN) are written with their trace events in one
// transaction, so a crash never leaves a half-recorded step.
import { replyCode, type Metrics } from '../../metrics/metrics.ts';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { batches } from '../../store/batches.ts';
import { groupCommit, relaxedCommit } from '../../store/commit-modes.ts';
import type { Dialect } from '../../store/database.ts';
import { PreparedQuery, sqlFor } from '../../store/prepared-query.ts';
import type { Database, RecipientState } from '../../store/schema.ts';
import { buildDsn, wantsNotice, type DsnRecipient } from '../dsn.ts';
import { logOutcomes, logReceived } from '../mail-log.ts';
import type { Logger } from '../../logging/logger.ts';
import { routeRecipient } from '../router.ts';
import { writeTrace } from '../trace.ts';
import { insertMessages, type NewMessage } from './intake-committer.ts';

export interface QueuedMessage {
  id: number;
  blobHash: string;
  prefix: string;
  size: number;
  sender: string;
  envid: string | null;
  ret: string | null;
  receivedAt: number;
  source: string;
  /** The From address intake proved the message comes from, if any. */
  verifiedFrom: string | null;
}

export interface ClaimedRecipient {
  id: number;
  messageId: number;
  recipient: string;
  originalRecipient: string;
  orcpt: string | null;
  notify: string | null;
  route: 'local' | 'remote';
  domain: string;
  tenantId: number | null;
  attempts: number;
  delayNotified: boolean;
  /** The last reply of an earlier attempt, if any. */
  lastReply: string | null;
  /** Who holds the lease: an outcome is recorded only while the lease is still its own. */
  leaseOwner: string | null;
  message: QueuedMessage;
}

export interface Outcome {
  recipient: ClaimedRecipient;
  reply: string;
  remoteMta?: string | null;
}

export interface QueueDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  directory: Directory;
  config: Pick<Config, 'hostname' | 'queue'>;
  /** Counts outcomes and delivery latency, when set. */
  metrics?: Metrics;
  /** Where each recipient's outcome is logged (mail-log.ts), when set. */
  log?: Logger;
  now(): number;
}

/** The states of recipients waiting for an attempt. */
const dueStates = ['queued', 'deferred'] as const;

export class Queue {
  /** When claim() next looks for expired leases. */
  private nextLeaseSweep = 0;

  constructor(private readonly deps: QueueDeps) {}

  private get db() {
    return this.deps.db;
  }

  /**
   * Claims up to `limit` due recipients for `owner`. Fair between tenants (each tenant with due work
   * gets an equal share) and between new and retried mail (half of each share for first attempts),
   * so neither a bulk sender nor a backlog of deferred mail can starve fresh mail.
   */
  async claim(owner: string, limit: number, routes: ('local' | 'remote')[] = ['local', 'remote']): Promise<ClaimedRecipient[]> {
    if (limit <= 0) return [];
    const now = this.deps.now();
    const lease = now + this.deps.config.queue.leaseMs;
    // Leases run out no sooner than leaseMs after a claim: looking for expired ones at every claim
    // (a burst of new mail claims every few milliseconds) only rescans the work in flight. A lease
    // need not survive a crash (the rows go back to the queue either way): no fsync.
    if (now >= this.nextLeaseSweep) {
      await relaxedCommit(this.db, (trx) => this.reclaimExpiredLeases(trx, now));
      this.nextLeaseSweep = now + Math.min(1000, this.deps.config.queue.leaseMs / 4);
    }
    // Tenants with due work, from the index alone; one whose due mail is all held, on other routes
    // or claimed meanwhile just has no candidates below. Asked before any transaction: many claims
    // find nothing (every commit and every finished delivery nudges the runner), and then this is
    // their one statement instead of four on PostgreSQL.
    const tenants = await this.db
      .selectFrom('queue_recipients')
      .select('tenant_id')
      .distinct()
      .where('state', 'in', dueStates)
      .where('next_attempt_at', '<=', now)
      .execute();
    if (tenants.length === 0) return [];
    return relaxedCommit(this.db, async (trx) => {
      // Per tenant: candidates alternating fresh and retried mail; each tenant first gets an equal
      // share of the active set, and whatever a tenant cannot use goes to the others.
      const share = Math.max(1, Math.ceil(limit / tenants.length));
      const due = await this.oldestDue(trx, now, routes, tenants.map((t) => t.tenant_id), limit);
      const candidates = tenants.map(({ tenant_id }) => interleave(due.get(dueKey(tenant_id, true)) ?? [], due.get(dueKey(tenant_id, false)) ?? []));
      const ids = candidates.flatMap((list) => list.slice(0, share));
      for (let round = share; ids.length < limit && candidates.some((list) => list.length > round); round++) {
        for (const list of candidates) if (list.length > round && ids.length < limit) ids.push(list[round]!);
      }
      const chosen = ids.slice(0, limit);
      if (chosen.length === 0) return [];
      const claimed = await trx
        .updateTable('queue_recipients')
        .set({ state: 'inflight', lease_owner: owner, lease_expires_at: lease, updated_at: now })
        .where('id', 'in', chosen)
        .returning('id')
        .execute();
      return this.load(trx, claimed.map((c) => c.id));
    });
  }

  /**
   * The ids of each tenant's oldest due recipients, fresh (never tried) and retried apart, by
   * dueKey(): per tenant, state and kind, read in the order of the (tenant_id, state,
   * next_attempt_at) index and stopped at `limit`, then merged. One statement for all of them (a
   * union of those reads): on PostgreSQL each statement is a round trip, and statements run at once
   * in one transaction are not allowed (pg queues them and deprecates it).
   */
  private async oldestDue(trx: Transaction<Database>, now: number, routes: ('local' | 'remote')[], tenantIds: (number | null)[], limit: number): Promise<Map<string, number[]>> {
    const read = (tenantId: number | null, state: (typeof dueStates)[number], fresh: boolean) =>
      trx
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.id', 'r.next_attempt_at', 'r.tenant_id', 'r.attempts'])
        .where((eb) => (tenantId === null ? eb('r.tenant_id', 'is', null) : eb('r.tenant_id', '=', tenantId)))
        .where('r.state', '=', state)
        .where('r.next_attempt_at', '<=', now)
        .where('m.held', '=', 0)
        .where('r.route', 'in', routes)
        .where('r.attempts', fresh ? '=' : '>', 0)
        .orderBy('r.next_attempt_at')
        .limit(limit)
        .$if(this.deps.dialect === 'postgres', (q) => q.forUpdate('r').skipLocked());
    const due = new Map<string, { id: number; at: number }[]>();
    // Tenants in groups, within what one statement may hold (SQLite: 500 members of a union).
    for (const group of batches(tenantIds, 50)) {
      const reads = group.flatMap((tenantId) => dueStates.flatMap((state) => [true, false].map((fresh) => read(tenantId, state, fresh))));
      // Each read in a subquery of its own: its order and limit apply to it alone (and PostgreSQL
      // allows FOR UPDATE there, not on a member of a union).
      const [first, ...rest] = reads.map((q, i) => trx.selectFrom(q.as(`d${i}`)).selectAll());
      for (const r of await rest.reduce((union, q) => union.unionAll(q), first!).execute()) {
        const key = dueKey(r.tenant_id, Number(r.attempts) === 0);
        due.set(key, [...(due.get(key) ?? []), { id: Number(r.id), at: Number(r.next_attempt_at) }]);
      }
    }
    return new Map([...due].map(([key, list]) => [key, list.sort((a, b) => a.at - b.at).slice(0, limit).map((r) => r.id)]));
  }

  /**
   * Leases that ran out (their worker died or hung) go back to waiting, to be claimed like any other
   * due work. Their old owner can no longer record an outcome: the lease is not its own any more.
   */
  private async reclaimExpiredLeases(trx: Transaction<Database>, now: number) {
    await trx
      .updateTable('queue_recipients')
      .set({ state: 'queued', lease_owner: null, lease_expires_at: null, updated_at: now })
      .where('state', '=', 'inflight')
      .where('lease_expires_at', '<', now)
      .execute();
  }

  private async load(db: Kysely<Database> | Transaction<Database>, ids: number[]): Promise<ClaimedRecipient[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('queue_recipients as r')
      .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
      .select([
        'r.id',
        'r.message_id',
        'r.recipient',
        'r.original_recipient',
        'r.orcpt',
        'r.notify',
        'r.route',
        'r.domain',
        'r.tenant_id',
        'r.attempts',
        'r.delay_notified',
        'r.last_reply',
        'r.lease_owner',
        'm.blob_hash',
        'm.prefix',
        'm.size',
        'm.sender',
        'm.envid',
        'm.ret',
        'm.received_at',
        'm.source',
        'm.verified_from',
      ])
      .where('r.id', 'in', ids)
      .orderBy('r.id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      messageId: r.message_id,
      recipient: r.recipient,
      originalRecipient: r.original_recipient,
      orcpt: r.orcpt,
      notify: r.notify,
      route: r.route,
      domain: r.domain,
      tenantId: r.tenant_id,
      attempts: Number(r.attempts),
      delayNotified: Boolean(r.delay_notified),
      lastReply: r.last_reply,
      leaseOwner: r.lease_owner,
      message: {
        id: r.message_id,
        blobHash: r.blob_hash,
        prefix: r.prefix,
        size: Number(r.size),
        sender: r.sender,
        envid: r.envid,
        ret: r.ret,
        receivedAt: Number(r.received_at),
        source: r.source,
        verifiedFrom: r.verified_from,
      },
    }));
  }

  /** Recipients as the queue sees them (for administrative actions on waiting mail). */
  loadRecipients(ids: number[]): Promise<ClaimedRecipient[]> {
    return this.load(this.db, ids);
  }

  /** A destination is back: its deferred mail is due now instead of at its next retry. */
  async retryDestination(target: { allRemote: true } | { domains: string[] }): Promise<number> {
    const now = this.deps.now();
    const result = await this.db
      .updateTable('queue_recipients')
      .set({ next_attempt_at: now, updated_at: now })
      .where('state', '=', 'deferred')
      .where('route', '=', 'remote')
      .where('next_attempt_at', '>', now)
      .$if('domains' in target, (q) => q.where('domain', 'in', (target as { domains: string[] }).domains))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Extends the leases of work still in progress. */
  async renewLeases(owner: string, ids: number[]) {
    if (ids.length === 0) return;
    const now = this.deps.now();
    await this.db
      .updateTable('queue_recipients')
      .set({ lease_expires_at: now + this.deps.config.queue.leaseMs })
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
  async releaseStaleLeases(scope: { allOwners: boolean; host: string }) {
    const now = this.deps.now();
    let owners: string[] | undefined;
    if (!scope.allOwners) {
      const rows = await this.db.selectFrom('queue_recipients').select('lease_owner').distinct().where('state', '=', 'inflight').where('lease_owner', 'like', `${scope.host}/%`).execute();
      owners = rows.map((r) => r.lease_owner!).filter((owner) => !isProcessAlive(Number(owner.split('/')[1])));
      if (owners.length === 0) return 0;
    }
    const released = await this.db
      .updateTable('queue_recipients')
      .set({ state: 'queued', lease_owner: null, lease_expires_at: null, next_attempt_at: now, updated_at: now })
      .where('state', '=', 'inflight')
      .$if(owners !== undefined, (q) => q.where('lease_owner', 'in', owners!))
      .executeTakeFirst();
    return Number(released.numUpdatedRows);
  }

  /**
   * Records deliveries. Inside a caller's transaction (local delivery) at once, throwing
   * LeaseLostError if any lease is no longer the claimant's (the caller's append must roll back);
   * otherwise deliveries that finish together share one transaction, and late outcomes are dropped.
   */
  async recordDelivered(outcomes: Outcome[], trx?: Transaction<Database>): Promise<void> {
    if (!trx) return this.deliveredBatch.add(outcomes);
    if ((await this.writeDelivered(trx, outcomes)).length < outcomes.length) throw new LeaseLostError();
  }

  /**
   * Counts and logs deliveries recorded in a caller's transaction (recordDelivered with trx), once it
   * has committed: never from inside it, which PostgreSQL may end on a deadlock and run again.
   */
  delivered(outcomes: Outcome[]) {
    this.count('delivered', outcomes);
    logOutcomes(this.deps.log, 'delivered', outcomes, this.deps.now());
  }

  private count(outcome: 'delivered' | 'deferred' | 'failed', outcomes: Outcome[]) {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const now = this.deps.now();
    for (const o of outcomes) {
      metrics.deliveryOutcomes.inc({ outcome, route: o.recipient.route, code: replyCode(o.reply) });
      if (outcome === 'delivered') metrics.deliveryLatency.observe({ route: o.recipient.route }, Math.max(0, now - o.recipient.message.receivedAt) / 1000);
    }
  }

  private readonly deliveredBatch: Batcher<Outcome> = new Batcher(async (outcomes) => this.delivered(await groupCommit(this.db, (trx) => this.writeDelivered(trx, outcomes))));

  /** Returns the outcomes recorded (the others had lost their lease). */
  private async writeDelivered(trx: Transaction<Database>, outcomes: Outcome[]): Promise<Outcome[]> {
    const now = this.deps.now();
    const applied = await this.applyAll(trx, outcomes, 'delivered', (o) => ({ lastReply: o.reply, attempts: o.recipient.attempts + 1, lastAttemptAt: now }));
    await writeTrace(
      trx,
      applied.map((o) => ({ messageId: o.recipient.messageId, recipientId: o.recipient.id, event: 'delivered' as const, at: now, detail: { recipient: o.recipient.recipient, reply: o.reply, remoteMta: o.remoteMta } })),
    );
    return applied;
  }

  /**
   * Temporary failures: retry on the schedule, or fail with "expired" once the message is too old.
   * `notAttempted` is for mail that was not tried at all (its destination is known to be down): it
   * waits on the schedule without the attempt counting; retryDestination() releases it early when
   * the destination comes back.
   */
  async recordDeferred(outcomes: Outcome[], notAttempted = false) {
    if (!notAttempted) this.count('deferred', outcomes);
    const now = this.deps.now();
    const { retryMs, expireMs } = this.deps.config.queue;
    const expired = outcomes.filter((o) => now - o.recipient.message.receivedAt >= expireMs);
    const retried = outcomes.filter((o) => !expired.includes(o));
    if (retried.length) {
      const retryAt = new Map<Outcome, number>();
      const deferred = await groupCommit(this.db, async (trx) => {
        const applied = await this.applyAll(trx, retried, 'deferred', (o) => {
          const attempts = o.recipient.attempts + (notAttempted ? 0 : 1);
          const delay = retryMs[Math.min(Math.max(attempts - 1, 0), retryMs.length - 1)]!;
          retryAt.set(o, now + delay);
          return notAttempted ? { lastReply: o.reply, nextAttemptAt: now + delay } : { lastReply: o.reply, attempts, lastAttemptAt: now, nextAttemptAt: now + delay };
        });
        await writeTrace(
          trx,
          applied.map((o) => ({
            messageId: o.recipient.messageId,
            recipientId: o.recipient.id,
            event: 'deferred' as const,
            at: now,
            detail: { recipient: o.recipient.recipient, reply: o.reply, remoteMta: o.remoteMta, attempt: o.recipient.attempts + 1 },
          })),
        );
        return applied;
      });
      logOutcomes(this.deps.log, 'deferred', deferred, now, (o) => ({
        nextAttempt: new Date(retryAt.get(o)!).toISOString(),
        ...(notAttempted ? { attempts: o.recipient.attempts, attempted: false } : {}),
      }));
    }
    if (expired.length) {
      await this.recordFailed(
        expired.map((o) => ({ ...o, reply: `${o.reply} (message expired after ${Math.round(expireMs / 3_600_000)} hours in the queue)` })),
        'expired',
      );
    }
  }

  /** Permanent failures: the recipient fails and the sender gets a DSN, in one transaction. */
  async recordFailed(outcomes: Outcome[], event: 'bounced' | 'expired' = 'bounced') {
    this.count('failed', outcomes);
    const now = this.deps.now();
    const dsns = await this.prepareDsns(outcomes, 'failed');
    const { applied, notices } = await groupCommit(this.db, async (trx) => {
      const applied = await this.applyAll(trx, outcomes, 'failed', (o) => ({ lastReply: o.reply, attempts: o.recipient.attempts + 1, lastAttemptAt: now }));
      await writeTrace(
        trx,
        applied.map((o) => ({ messageId: o.recipient.messageId, recipientId: o.recipient.id, event, at: now, detail: { recipient: o.recipient.recipient, reply: o.reply, remoteMta: o.remoteMta } })),
      );
      const appliedMessages = new Set(applied.map((o) => o.recipient.messageId));
      return { applied, notices: await this.insertDsns(trx, dsns.filter((dsn) => appliedMessages.has(dsn.dsnFor))) };
    });
    this.logDsns(notices);
    logOutcomes(this.deps.log, 'bounced', applied, now, (o) => ({ expired: event === 'expired' || undefined, dsnQueueId: notices.find((n) => n.dsnFor === o.recipient.messageId)?.queueId }));
  }

  /** Queues DSNs in the caller's transaction; logDsns() logs them once it has committed. */
  private async insertDsns(trx: Transaction<Database>, dsns: { dsnFor: number; message: NewMessage }[]) {
    const ids = await insertMessages(trx, dsns.map((dsn) => dsn.message), this.deps.dialect);
    return dsns.map((dsn, i) => ({ ...dsn, queueId: ids[i]! }));
  }

  private logDsns(queued: { queueId: number; message: NewMessage }[]) {
    for (const dsn of queued) logReceived(this.deps.log, dsn.queueId, dsn.message);
  }

  /** Tells senders whose mail has waited longer than `delay_notice` that it is still being retried. */
  async sendDelayNotices(): Promise<number> {
    const now = this.deps.now();
    const { delayNoticeMs, expireMs } = this.deps.config.queue;
    const rows = await this.db
      .selectFrom('queue_recipients as r')
      .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
      .select('r.id')
      .where('r.state', '=', 'deferred')
      .where('r.delay_notified', '=', 0)
      .where('m.received_at', '<=', now - delayNoticeMs)
      .where('m.sender', '!=', '')
      .limit(500)
      .execute();
    const due = (await this.load(this.db, rows.map((r) => r.id))).filter((r) => wantsNotice(r.notify, 'delayed'));
    if (due.length === 0) return 0;
    const outcomes = due.map((recipient) => ({ recipient, reply: recipient.lastReply ?? '' }));
    const dsns = await this.prepareDsns(outcomes, 'delayed', (m) => m.receivedAt + expireMs);
    const notices = await groupCommit(this.db, async (trx) => {
      await trx.updateTable('queue_recipients').set({ delay_notified: 1 }).where('id', 'in', due.map((r) => r.id)).execute();
      await writeTrace(trx, due.map((r) => ({ messageId: r.messageId, recipientId: r.id, event: 'delay-notice' as const, at: now, detail: { recipient: r.recipient } })));
      return this.insertDsns(trx, dsns);
    });
    this.logDsns(notices);
    return due.length;
  }

  /**
   * Records outcomes (one statement for all), each only while its recipient's lease is still the
   * claimant's: if the lease expired and another worker took the recipient over, that (late) outcome
   * is dropped. Returns the outcomes recorded.
   */
  private async applyAll(trx: Transaction<Database>, outcomes: Outcome[], state: RecipientState, fields: (o: Outcome) => OutcomeFields): Promise<Outcome[]> {
    if (outcomes.length === 0) return [];
    const rows = outcomes.map((o) => {
      const f = fields(o);
      return [o.recipient.id, o.recipient.leaseOwner, f.lastReply, f.attempts ?? null, f.lastAttemptAt ?? null, f.nextAttemptAt ?? null];
    });
    const recorded = await recordOutcomes.rows(trx, { state, now: this.deps.now(), rows: JSON.stringify(rows) });
    const ids = new Set(recorded.map((r) => Number(r.id)));
    return outcomes.filter((o) => ids.has(o.recipient.id));
  }

  /** One DSN per original message, written to the blob store before the transaction that queues it. */
  private async prepareDsns(outcomes: Outcome[], kind: 'failed' | 'delayed', retryUntil?: (m: QueuedMessage) => number) {
    const byMessage = new Map<number, Outcome[]>();
    for (const o of outcomes) {
      // Never to the null sender (that is how bounce loops start), and only when asked for.
      if (o.recipient.message.sender === '' || !wantsNotice(o.recipient.notify, kind)) continue;
      byMessage.set(o.recipient.messageId, [...(byMessage.get(o.recipient.messageId) ?? []), o]);
    }
    const now = this.deps.now();
    const dsns = [];
    for (const group of byMessage.values()) {
      const message = group[0]!.recipient.message;
      const route = await routeRecipient(this.deps.directory, message.sender).catch(() => undefined);
      if (!route || route.kind === 'unknown' || route.recipients.length === 0) continue;
      const recipients: DsnRecipient[] = group.map((o) => ({
        recipient: o.recipient.originalRecipient,
        orcpt: o.recipient.orcpt,
        reply: o.reply || null,
        remoteMta: o.remoteMta,
        lastAttemptAt: now,
      }));
      const blob = await this.deps.blobs.put(
        buildDsn(this.deps.blobs, { kind, hostname: this.deps.config.hostname, sender: message.sender, original: message, recipients, retryUntil: retryUntil?.(message), now }),
      );
      dsns.push({ dsnFor: message.id, message: {
        blobHash: blob.hash,
        prefix: '',
        size: blob.size,
        sender: '',
        subject: kind === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)',
        source: 'dsn' as const,
        receivedAt: now,
        recipients: route.recipients.map((r) => ({ ...r, originalRecipient: message.sender })),
        receivedDetail: { dsnFor: message.id, kind },
      } });
    }
    return dsns;
  }
}

/** What an outcome sets besides the state (and the lease, which it ends); a field left out keeps its value. */
interface OutcomeFields {
  lastReply: string;
  attempts?: number;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
}

/**
 * Records outcomes given as one JSON array of [id, lease owner, reply, attempts, last attempt,
 * next attempt] (null: keep the value), where the lease owner is still the one given. One shape for
 * any number of outcomes, prepared once; on PostgreSQL one round trip instead of one per recipient.
 */
const recordOutcomes = new PreparedQuery<{ state: RecipientState; now: number; rows: string }, { id: number }>((db, arg) =>
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

export const queueStates: RecipientState[] = ['queued', 'inflight', 'deferred', 'delivered', 'failed'];

/** A local delivery whose lease was taken over meanwhile: its transaction is rolled back. */
export class LeaseLostError extends Error {
  constructor() {
    super('the lease on this delivery was taken over by another worker');
  }
}

const dueKey = (tenantId: number | null, fresh: boolean) => `${tenantId}/${fresh ? 'fresh' : 'retried'}`;

function interleave(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Collects items added in the same turn of the event loop and hands them to `flush` together; every
 * caller's promise settles with that flush.
 */
class Batcher<T> {
  private items: T[] = [];
  private waiters: { resolve(): void; reject(error: unknown): void }[] = [];

  constructor(private readonly flush: (items: T[]) => Promise<unknown>) {}

  add(items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.items.length === 0) setImmediate(() => void this.run());
      this.items.push(...items);
      this.waiters.push({ resolve, reject });
    });
  }

  private async run() {
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    try {
      await this.flush(items);
      waiters.forEach((w) => w.resolve());
    } catch (error) {
      waiters.forEach((w) => w.reject(error));
    }
  }
}
