// The queue as Prometheus gauges, read from the store at each scrape: recipients by state and
// tenant, remote recipients by destination, and the age of the oldest waiting mail.
import type { Kysely } from 'kysely';
import { Gauge } from 'prom-client';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Database } from '../../store/schema.ts';
import { queueBacklog } from './queue-insight.ts';

/** Queue depth by state and tenant, by destination for remote mail, and the oldest waiting mail, read at each scrape. */
export function watchQueue(metrics: Metrics, db: Kysely<Database>, now: () => number) {
  new Gauge({
    name: 'holdfast_queue_recipients',
    help: 'Queued recipients by state and tenant',
    labelNames: ['state', 'tenant'] as const,
    registers: [metrics.registry],
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
    registers: [metrics.registry],
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
    registers: [metrics.registry],
    async collect() {
      this.set((await queueBacklog(db, now())).oldestAgeSeconds);
    },
  });
}
