// A lease on one singleton job (a `singleton_leases` row): at most one node holds it at a time.
// Taking it is one conditional statement (insert, or update where the lease ran out or is already
// ours), so two nodes racing for it cannot both win. Each takeover raises the fencing token; a
// job's writes check holder and token inside their own transaction (fence()), so a holder that
// paused past its lease and was replaced cannot write, even if it does not know yet.
//
// A row, not only a session advisory lock: a lock vanishes with its connection while the process
// that held it may still be working, and it says nothing about who holds it to `cluster status`.
// Times are the nodes' clocks (the injected now); the lease is at least three heartbeats long, so
// some skew between nodes does not hand a lease to a second node while its holder renews it.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

/** A write of a singleton job refused because its node no longer holds the lease it started under. */
export class FencedOut extends Error {
  constructor(
    readonly lease: string,
    readonly token: number,
  ) {
    super(
      `singleton ${lease}: the lease with token ${token} is no longer this node's (taken over or run out); write refused`,
    );
  }
}

export interface LeaseState {
  token: number;
  acquiredAt: number;
  expiresAt: number;
  lastRunAt: number | null;
}

export class LeaderLease {
  private state?: LeaseState;

  constructor(
    private readonly db: Kysely<Database>,
    readonly name: string,
    /** This node's id. */
    readonly holder: string,
    private readonly leaseMs: number,
    private readonly now: () => number,
  ) {}

  /** The lease as this node last took or renewed it, while it has not run out by this node's clock. */
  get held(): LeaseState | undefined {
    return this.state && this.now() < this.state.expiresAt ? this.state : undefined;
  }

  /**
   * Takes the lease when it is free or ran out, or renews it when it is ours. Returns the lease
   * held now, or undefined when another node holds it.
   */
  async acquire(): Promise<LeaseState | undefined> {
    const now = this.now();
    const mine = sql<boolean>`singleton_leases.holder = ${this.holder}`;
    const row = await this.db
      .insertInto('singleton_leases')
      .values({
        name: this.name,
        holder: this.holder,
        token: 1,
        acquired_at: now,
        expires_at: now + this.leaseMs,
        last_run_at: null,
      })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({
            holder: this.holder,
            // Renewing keeps the token; taking over raises it, which fences out the last holder.
            token: sql<number>`case when ${mine} then singleton_leases.token else singleton_leases.token + 1 end`,
            acquired_at: sql<number>`case when ${mine} then singleton_leases.acquired_at else ${now} end`,
            expires_at: now + this.leaseMs,
          })
          .where((eb) =>
            eb.or([eb('singleton_leases.expires_at', '<=', now), eb('singleton_leases.holder', '=', this.holder)]),
          ),
      )
      .returning(['token', 'acquired_at', 'expires_at', 'last_run_at'])
      .executeTakeFirst();
    this.state = row && {
      token: Number(row.token),
      acquiredAt: Number(row.acquired_at),
      expiresAt: Number(row.expires_at),
      lastRunAt: row.last_run_at === null ? null : Number(row.last_run_at),
    };
    return this.state;
  }

  /**
   * Inside a job's transaction, before its writes: refuses (FencedOut) unless this node still holds
   * the lease under `token` and it has not run out. On PostgreSQL the update also locks the row
   * until the transaction ends, so a takeover waits for the write it would fence out.
   */
  async fence(trx: Transaction<Database> | Kysely<Database>, token: number): Promise<void> {
    const result = await trx
      .updateTable('singleton_leases')
      .set({ holder: this.holder })
      .where('name', '=', this.name)
      .where('holder', '=', this.holder)
      .where('token', '=', token)
      .where('expires_at', '>', this.now())
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      if (this.state?.token === token) this.state = undefined;
      throw new FencedOut(this.name, token);
    }
  }

  /** Records when the job last ran, so the next holder keeps its rhythm. */
  async ran(token: number, at: number) {
    await this.db
      .updateTable('singleton_leases')
      .set({ last_run_at: at })
      .where('name', '=', this.name)
      .where('holder', '=', this.holder)
      .where('token', '=', token)
      .execute();
    if (this.state?.token === token) this.state.lastRunAt = at;
  }

  /** Gives the lease up (a clean stop): another node may take it at once. */
  async release() {
    const token = this.state?.token;
    this.state = undefined;
    if (token === undefined) return;
    await this.db
      .updateTable('singleton_leases')
      .set({ holder: null, expires_at: this.now() })
      .where('name', '=', this.name)
      .where('holder', '=', this.holder)
      .where('token', '=', token)
      .execute();
  }
}
