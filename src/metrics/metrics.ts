// Prometheus metrics (prom-client): what the mail flow and the protocol services count as they work,
// and what is read from the store at each scrape (queue depth, oldest mail). `GET /metrics` serves
// them; `holdfast health` and the service-health probes build on the same numbers.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import { queueBacklog } from '../flow/queue/queue-insight.ts';
import type { Database } from '../store/schema.ts';
import type { CheckResult } from '../health/check-result.ts';
import type { StatusSnapshot } from '../health/status-snapshot.ts';

export class Metrics {
  readonly registry = new Registry();

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

  /** A protocol service reports how many sessions it has open. */
  countSessions(protocol: string, count: () => number) {
    this.sessionCounts.set(protocol, count);
  }

  countForestConnections(read: () => { forest: string; open: number; limit: number }[]) {
    this.connectionCounts.set('smtp', read);
  }

  /**
   * Probe results as service health last saw them; component statuses and open issues as the store
   * has them at the scrape (`snapshot` reads it), so an issue opened or closed by an administrator
   * shows at once, not after the next probe round.
   */
  watchHealth(read: () => HealthReading, snapshot: () => Promise<StatusSnapshot>) {
    // The gauges of one scrape are collected together: they share one read of the store.
    let reading: Promise<StatusSnapshot> | undefined;
    const current = () => (reading ??= snapshot().finally(() => (reading = undefined)));
    new Gauge({
      name: 'holdfast_health_check_state',
      help: 'Last result of each service health check on this node: 0 healthy, 1 recovering, 2 failing',
      labelNames: ['check', 'component'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of read().results) this.set({ check: r.rule, component: r.component }, checkStateValue[r.state]);
      },
    });
    new Gauge({
      name: 'holdfast_health_check_latency_seconds',
      help: 'How long the last run of each timed check took (probe round trips, store write and read)',
      labelNames: ['check'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of read().results) if (r.latencyMs !== undefined) this.set({ check: r.rule }, r.latencyMs / 1000);
      },
    });
    new Gauge({
      name: 'holdfast_health_component_status',
      help: 'Status of each component: 0 operational, 1 degraded or recovering, 2 interrupted',
      labelNames: ['component'] as const,
      registers: [this.registry],
      async collect() {
        const { components } = await current();
        this.reset();
        for (const c of components) this.set({ component: c.id }, c.status === 'serviceOperational' ? 0 : c.status === 'serviceInterruption' ? 2 : 1);
      },
    });
    new Gauge({
      name: 'holdfast_health_issues_open',
      help: 'Open service health issues, by classification',
      labelNames: ['classification'] as const,
      registers: [this.registry],
      async collect() {
        const { active } = await current();
        this.reset();
        for (const classification of ['incident', 'advisory']) this.set({ classification }, active.filter((i) => i.classification === classification).length);
      },
    });
  }

  /** Queue depth by state and tenant, by destination for remote mail, and the oldest waiting mail, read at each scrape. */
  watchQueue(db: Kysely<Database>, now: () => number) {
    new Gauge({
      name: 'holdfast_queue_recipients',
      help: 'Queued recipients by state and tenant',
      labelNames: ['state', 'tenant'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await db
          .selectFrom('queue_recipients as r')
          .leftJoin('tenants as t', 't.id', 'r.tenant_id')
          .select(['r.state', 't.name as tenant', (eb) => eb.fn.countAll<number>().as('n')])
          .where('r.state', 'in', ['queued', 'inflight', 'deferred'])
          .groupBy(['r.state', 't.name'])
          .execute();
        this.reset();
        for (const row of rows) this.set({ state: row.state, tenant: row.tenant ?? '(none)' }, Number(row.n));
      },
    });
    new Gauge({
      name: 'holdfast_queue_destination_recipients',
      help: 'Remote recipients waiting, by destination domain and state',
      labelNames: ['destination', 'state'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await db
          .selectFrom('queue_recipients')
          .select(['domain', 'state', (eb) => eb.fn.countAll<number>().as('n')])
          .where('route', '=', 'remote')
          .where('state', 'in', ['queued', 'inflight', 'deferred'])
          .groupBy(['domain', 'state'])
          .execute();
        this.reset();
        for (const row of rows) this.set({ destination: row.domain, state: row.state }, Number(row.n));
      },
    });
    new Gauge({
      name: 'holdfast_queue_oldest_age_seconds',
      help: 'Age of the oldest recipient not yet delivered or failed (0 when the queue is empty)',
      registers: [this.registry],
      async collect() {
        this.set((await queueBacklog(db, now())).oldestAgeSeconds);
      },
    });
  }
}

/** What service health last saw, read at each scrape. */
export interface HealthReading {
  results: CheckResult[];
}

const checkStateValue = { healthy: 0, recovering: 1, failing: 2 } as const;

/** The reply code a delivery outcome is counted under: "250", "421", "550"… */
export function replyCode(reply: string): string {
  return /^\d{3}/.exec(reply)?.[0] ?? 'none';
}
