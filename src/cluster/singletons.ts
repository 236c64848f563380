// The work that must run once across the nodes sharing a store: each job runs on the one node
// holding its lease (leader-lease.ts). Every node that could run a job contends for its lease at
// each heartbeat; the holder renews it then and runs the job every interval, counted on the node
// from when it took the lease (like the timer each job had before), so a takeover does not run a job
// the old holder just ran. A node that dies stops renewing and another takes the job within the
// lease plus a heartbeat; a clean stop releases its leases at once.
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../store/schema.ts';
import { FencedOut, LeaderLease, type LeaseState } from './leader-lease.ts';
import type { StoreBackoff } from './store-backoff.ts';

/** What a job's run is given: the token it started under and the check its writes carry. */
export interface SingletonRun {
  token: number;
  /** Runs first in each of the job's transactions: throws FencedOut when the lease is no longer this run's. */
  fence(trx: Transaction<Database>): Promise<void>;
}

/** How long a clean stop waits for running jobs before it releases their leases anyway. */
const stopWaitMs = 5000;

export type SingletonJob = (run: SingletonRun) => Promise<unknown>;

export interface SingletonsDeps {
  db: Kysely<Database>;
  /** Shared with the heartbeat: while the store fails writes, tries are spaced out. */
  backoff: StoreBackoff;
  /** This node's id (the holder named in the leases). */
  nodeId: string;
  heartbeatMs: number;
  leaseMs: number;
  logger: Logger;
  now(): number;
}

interface Entry {
  lease: LeaderLease;
  job?: { intervalMs: number; run: SingletonJob };
  running?: Promise<void>;
  /** performance.now() when this node took the lease or last ran the job: the next run is an interval later. */
  mark: number;
  /** Whether taking or renewing the lease failed last time (logged once until it works again). */
  failing?: boolean;
  /** What this node last said about the lease in its log: held or not. */
  logged: boolean;
}

export class Singletons {
  private readonly entries = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: SingletonsDeps) {}

  /**
   * Contends for a lease with no job of its own: the caller asks `held` before doing what only one
   * node should (the shared part of the health rounds, which keep their own rhythm).
   */
  lease(name: string): LeaderLease {
    return this.entry(name).lease;
  }

  /** Runs `job` every `intervalMs` on whichever node holds the lease `name`. */
  runAsSingleton(name: string, intervalMs: number, job: SingletonJob) {
    const entry = this.entry(name);
    if (entry.job) throw new Error(`singleton ${name} has a job already`);
    entry.job = { intervalMs, run: job };
  }

  /** Contends at once (a single node takes its leases at start), then at every heartbeat. */
  start() {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.deps.heartbeatMs);
    this.timer.unref();
  }

  /** Stops renewing without releasing: what a hung process looks like to the other nodes (drills and tests). */
  freeze() {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** A clean stop: lets running jobs finish, then releases the leases so another node takes over at once. */
  async stop() {
    this.freeze();
    // Briefly: a job still running after that is fenced out by whoever takes its lease next.
    await withinMs(Promise.all([this.ticking, ...[...this.entries.values()].map((e) => e.running)]), stopWaitMs);
    for (const { lease } of this.entries.values()) {
      // A store failing writes would keep each try waiting: the leases run out by themselves.
      if (this.deps.backoff.waiting) return;
      await lease.release().catch((error) => {
        this.deps.backoff.failed();
        this.deps.logger.warn(
          { err: error, singleton: lease.name },
          'cluster: releasing a lease failed; it runs out by itself',
        );
      });
    }
  }

  /**
   * The lease `name` when this node holds it, taken or renewed now if its time ran out meanwhile
   * (a round that keeps its own rhythm asks before its shared work). Never while frozen or stopped.
   */
  async holds(name: string) {
    return (await this.contendFor(name)).held;
  }

  /**
   * Like holds(), and says whether another node holds the lease or the store could not say (it did
   * not answer): work that must go on when the store is down (checking the store) runs in that case.
   */
  async contendFor(name: string): Promise<{ held?: LeaseState; unknown: boolean }> {
    const entry = this.entry(name);
    if (this.stopped || entry.lease.held) return { held: entry.lease.held, unknown: false };
    if (this.deps.backoff.waiting) return { unknown: true };
    try {
      const held = await this.acquire(entry);
      this.deps.backoff.succeeded();
      return { held, unknown: false };
    } catch {
      this.deps.backoff.failed();
      return { unknown: true };
    }
  }

  /** The names of the leases this node holds now. */
  held(): string[] {
    return [...this.entries.values()].filter((e) => e.lease.held).map((e) => e.lease.name);
  }

  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = {
        lease: new LeaderLease(this.deps.db, name, this.deps.nodeId, this.deps.leaseMs, this.deps.now),
        mark: 0,
        logged: false,
      };
      this.entries.set(name, entry);
    }
    return entry;
  }

  private tick() {
    if (this.ticking || this.stopped || this.deps.backoff.waiting) return;
    this.ticking = this.contend().finally(() => (this.ticking = undefined));
  }

  private async contend() {
    for (const entry of this.entries.values()) {
      if (this.stopped) return;
      const { lease } = entry;
      try {
        const held = await this.acquire(entry);
        if (held && entry.job && !entry.running && performance.now() - entry.mark >= entry.job.intervalMs)
          entry.running = this.run(entry, held.token).finally(() => (entry.running = undefined));
        entry.failing = false;
      } catch (error) {
        // The store did not answer: the lease runs out if this lasts, and the job moves to a node that
        // can write. Said once per outage, not at every heartbeat; the other leases wait for the next try.
        if (!entry.failing)
          this.deps.logger.warn({ err: error, singleton: lease.name }, 'cluster: could not take or renew a lease');
        entry.failing = true;
        this.deps.backoff.failed();
        return;
      }
    }
    this.deps.backoff.succeeded();
  }

  private async acquire(entry: Entry) {
    const { lease } = entry;
    const held = await lease.acquire();
    if (Boolean(held) !== entry.logged) {
      entry.logged = Boolean(held);
      entry.mark = performance.now();
      if (held)
        this.deps.logger.info({ singleton: lease.name, token: held.token }, 'cluster: this node runs the singleton');
      else this.deps.logger.info({ singleton: lease.name }, 'cluster: another node runs the singleton');
    }
    return held;
  }

  private async run(entry: Entry, token: number) {
    const { lease, job } = entry;
    const started = this.deps.now();
    entry.mark = performance.now();
    try {
      await job!.run({ token, fence: (trx) => lease.fence(trx, token) });
      await lease.ran(token, started);
    } catch (error) {
      if (error instanceof FencedOut) {
        entry.logged = false;
        this.deps.logger.warn(
          { singleton: lease.name, token },
          'cluster: lost the lease while running; the new holder carries on',
        );
      } else {
        // Failed runs count as runs: the job is tried again after its interval, not at every heartbeat.
        await lease.ran(token, started).catch(() => {});
        this.deps.logger.warn(
          { err: error, singleton: lease.name },
          'cluster: singleton run failed; trying again at its next turn',
        );
      }
    }
  }
}

/** Waits for `work`, but no longer than `ms`. */
export async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
