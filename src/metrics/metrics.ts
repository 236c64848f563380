// Prometheus metrics (prom-client): what the mail flow and the protocol services count as they work.
// Gauges read at each scrape are added by their owners (flow/queue/queue-metrics.ts for the queue,
// health/health-metrics.ts for service health) into the one registry. `GET /metrics` serves them:
// in a worker of --workers, added up with the other workers' figures (machine-metrics.ts).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Figure, machineRegistry, workerFigures } from './machine-metrics.ts';

/** What the sign-in path counts (the shapes of directory/credential-cache.ts's and directory/kdf-queue.ts's stats). */
export interface SignInStats {
  cache: { hits: number; misses: number; entries: number };
  kdf: { running: number; waiting: number; completed: number; rejected: number; waitMsTotal: number };
}

/** Where a worker of --workers gets the other workers' figures for a scrape (server/machine-metrics-client.ts). */
export interface MachineFigures {
  /** The figures of the other workers that answered in time, and how many did not. */
  gather(): Promise<{ figures: Figure[][]; missing: number }>;
}

/**
 * The registry /metrics reads (`metrics()`): this process's figures, or with `machine` set the whole
 * machine's, this process's added to the other workers'.
 */
class ScrapeRegistry extends Registry {
  machine?: MachineFigures;

  override async metrics(): Promise<string> {
    if (!this.machine) return super.metrics();
    const [own, others] = await Promise.all([this.getMetricsAsJSON(), this.machine.gather()]);
    const workers = { reported: others.figures.length + 1, missing: others.missing };
    return machineRegistry(own as unknown as Figure[], others.figures, workers).metrics();
  }
}

export class Metrics {
  private readonly scrape = new ScrapeRegistry();
  readonly registry: Registry = this.scrape;

  readonly deliveryOutcomes = new Counter({
    name: 'holdfast_delivery_outcomes_total',
    help: 'Delivery attempts per recipient, by outcome (delivered, deferred, failed), route (local, remote) and reply code',
    labelNames: ['outcome', 'route', 'code'] as const,
    registers: [this.registry],
  });

  readonly acceptLatency = new Histogram({
    name: 'holdfast_accept_latency_seconds',
    help: 'From the end of DATA to the 250 reply, the message durably stored',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'holdfast_delivery_latency_seconds',
    help: 'From acceptance to delivery, by route',
    labelNames: ['route'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600],
    registers: [this.registry],
  });

  readonly caldavRequests = new Counter({
    name: 'holdfast_caldav_requests_total',
    help: 'CalDAV requests, by method and HTTP status',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });

  private readonly sessionCounts = new Map<string, () => number>();
  private signIns?: () => SignInStats;
  private readonly connectionCounts = new Map<string, () => { forest: string; open: number; limit: number }[]>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'holdfast_' });
    const sessions = this.sessionCounts;
    new Gauge({
      name: 'holdfast_sessions',
      help: 'Open protocol sessions, by protocol',
      labelNames: ['protocol'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [protocol, count] of sessions) this.set({ protocol }, count());
      },
    });
    const signIns = () => this.signIns?.();
    // Counters whose totals the sign-in path keeps itself: each scrape sets them to those totals.
    const total = (name: string, help: string, value: (s: SignInStats) => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const stats = signIns();
          if (!stats) return;
          this.reset();
          this.inc(value(stats));
        },
      });
    new Counter({
      name: 'holdfast_auth_cache_lookups_total',
      help: 'Password sign-ins by whether the cache of verified sign-ins answered (hit) or the KDF had to (miss)',
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        const stats = signIns();
        if (!stats) return;
        this.reset();
        this.inc({ result: 'hit' }, stats.cache.hits);
        this.inc({ result: 'miss' }, stats.cache.misses);
      },
    });
    total(
      'holdfast_kdf_computations_total',
      'Password hashes computed (checks and new passwords)',
      (s) => s.kdf.completed,
    );
    total(
      'holdfast_kdf_rejected_total',
      'Sign-ins refused with a temporary failure because the KDF queue was full ([auth] kdf_queue)',
      (s) => s.kdf.rejected,
    );
    total(
      'holdfast_kdf_wait_seconds_total',
      'Time password hashes waited for their turn in the KDF queue, added up (divide by computations for the mean)',
      (s) => s.kdf.waitMsTotal / 1000,
    );
    new Gauge({
      name: 'holdfast_kdf_queue',
      help: 'Password hashes running (state="running") and waiting for their turn (state="waiting")',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const stats = signIns();
        if (!stats) return;
        this.set({ state: 'running' }, stats.kdf.running);
        this.set({ state: 'waiting' }, stats.kdf.waiting);
      },
    });
    new Gauge({
      name: 'holdfast_auth_cache_entries',
      help: 'Verified sign-ins in the cache',
      registers: [this.registry],
      collect() {
        const stats = signIns();
        if (stats) this.set(stats.cache.entries);
      },
    });
    const forests = this.connectionCounts;
    new Gauge({
      name: 'holdfast_forest_connections',
      help: 'Open SMTP connections per resource forest, and the forest limit (kind="limit")',
      labelNames: ['forest', 'kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const read of forests.values()) {
          for (const f of read()) {
            this.set({ forest: f.forest, kind: 'open' }, f.open);
            this.set({ forest: f.forest, kind: 'limit' }, f.limit);
          }
        }
      },
    });
  }

  /**
   * The sign-in path's counts, read at each scrape: the directory's cache of verified sign-ins and
   * the process's KDF queue (directory/credential-cache.ts, directory/kdf-queue.ts).
   */
  watchSignIns(read: () => SignInStats) {
    this.signIns = read;
  }

  /** A protocol service reports how many sessions it has open. */
  countSessions(protocol: string, count: () => number) {
    this.sessionCounts.set(protocol, count);
  }

  countForestConnections(read: () => { forest: string; open: number; limit: number }[]) {
    this.connectionCounts.set('smtp', read);
  }

  /** A worker of --workers: scrapes answer with the machine's figures, the others' from `machine`. */
  addUpWith(machine: MachineFigures) {
    this.scrape.machine = machine;
  }

  /** This process's figures for another worker's scrape: all but those read from the store. */
  workerFigures(): Promise<Figure[]> {
    return workerFigures(this.registry);
  }
}

/** The reply code a delivery outcome is counted under: "250", "421", "550"… */
export function replyCode(reply: string): string {
  return /^\d{3}/.exec(reply)?.[0] ?? 'none';
}
