// Claiming due work: which waiting recipients a worker gets next, fairly between tenants and between
// fresh and retried mail, each with a lease (leases.ts).
import type { Transaction } from 'kysely';
import { batches } from '../../store/batches.ts';
import { relaxedCommit } from '../../store/commit-modes.ts';
import type { Dialect } from '../../store/database.ts';
import type { Database } from '../../store/schema.ts';
import { loadRecipients, type ClaimedRecipient } from './claimed-recipient.ts';
import { reclaimExpiredLeases, type LeaseDeps } from './leases.ts';

export interface ClaimDeps extends LeaseDeps {
  dialect: Dialect;
}

/** The states of recipients waiting for an attempt. */
const dueStates = ['queued', 'deferred'] as const;

export class Claims {
  /** When claim() next looks for expired leases. */
  private nextLeaseSweep = 0;

  constructor(private readonly deps: ClaimDeps) {}

  private get db() {
    return this.deps.db;
  }

  /**
   * Claims up to `limit` due recipients for `owner`. Fair between tenants (each tenant with due work
   * gets an equal share) and between new and retried mail (half of each share for first attempts),
   * so neither a bulk sender nor a backlog of deferred mail can starve fresh mail.
   */
  async claim(
    owner: string,
    limit: number,
    routes: ('local' | 'remote')[] = ['local', 'remote'],
  ): Promise<ClaimedRecipient[]> {
    if (limit <= 0) return [];
    const now = this.deps.now();
    const lease = now + this.deps.config.queue.leaseMs;
    // Leases run out no sooner than leaseMs after a claim: looking for expired ones at every claim
    // (a burst of new mail claims every few milliseconds) only rescans the work in flight. A lease
    // need not survive a crash (the rows go back to the queue either way): no fsync.
    if (now >= this.nextLeaseSweep) {
      await relaxedCommit(this.db, (trx) => reclaimExpiredLeases(trx, now));
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
      const due = await this.oldestDue(
        trx,
        now,
        routes,
        tenants.map((t) => t.tenant_id),
        limit,
      );
      const candidates = tenants.map(({ tenant_id }) =>
        interleave(due.get(dueKey(tenant_id, true)) ?? [], due.get(dueKey(tenant_id, false)) ?? []),
      );
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
      return loadRecipients(
        trx,
        claimed.map((c) => c.id),
      );
    });
  }

  /**
   * The ids of each tenant's oldest due recipients, fresh (never tried) and retried apart, by
   * dueKey(): per tenant, state and kind, read in the order of the (tenant_id, state,
   * next_attempt_at) index and stopped at `limit`, then merged. One statement for all of them (a
   * union of those reads): on PostgreSQL each statement is a round trip, and statements run at once
   * in one transaction are not allowed (pg queues them and deprecates it).
   */
  private async oldestDue(
    trx: Transaction<Database>,
    now: number,
    routes: ('local' | 'remote')[],
    tenantIds: (number | null)[],
    limit: number,
  ): Promise<Map<string, number[]>> {
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
      const reads = group.flatMap((tenantId) =>
        dueStates.flatMap((state) => [true, false].map((fresh) => read(tenantId, state, fresh))),
      );
      // Each read in a subquery of its own: its order and limit apply to it alone (and PostgreSQL
      // allows FOR UPDATE there, not on a member of a union).
      const [first, ...rest] = reads.map((q, i) => trx.selectFrom(q.as(`d${i}`)).selectAll());
      for (const r of await rest.reduce((union, q) => union.unionAll(q), first!).execute()) {
        const key = dueKey(r.tenant_id, Number(r.attempts) === 0);
        due.set(key, [...(due.get(key) ?? []), { id: Number(r.id), at: Number(r.next_attempt_at) }]);
      }
    }
    return new Map(
      [...due].map(([key, list]) => [
        key,
        list
          .sort((a, b) => a.at - b.at)
          .slice(0, limit)
          .map((r) => r.id),
      ]),
    );
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
