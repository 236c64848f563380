// Service health as Prometheus gauges: each check's last result and latency on this node, and the
// components' statuses and open issues as the store has them at the scrape.
import { Gauge } from 'prom-client';
import type { Metrics } from '../metrics/metrics.ts';
import type { CheckResult } from './check-result.ts';
import type { StatusSnapshot } from './status-snapshot.ts';

/** What service health last saw, read at each scrape. */
export interface HealthReading {
  results: CheckResult[];
}

const checkStateValue = { healthy: 0, recovering: 1, failing: 2 } as const;

/**
 * Probe results as service health last saw them; component statuses and open issues as the store
 * has them at the scrape (`snapshot` reads it), so an issue opened or closed by an administrator
 * shows at once, not after the next probe round.
 */
export function watchHealth(metrics: Metrics, read: () => HealthReading, snapshot: () => Promise<StatusSnapshot>) {
  // The gauges of one scrape are collected together: they share one read of the store.
  let reading: Promise<StatusSnapshot> | undefined;
  const current = () => (reading ??= snapshot().finally(() => (reading = undefined)));
  new Gauge({
    name: 'holdfast_health_check_state',
    help: 'Last result of each service health check on this node: 0 healthy, 1 recovering, 2 failing',
    labelNames: ['check', 'component'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const r of read().results) this.set({ check: r.rule, component: r.component }, checkStateValue[r.state]);
    },
  });
  new Gauge({
    name: 'holdfast_health_check_latency_seconds',
    help: 'How long the last run of each timed check took (probe round trips, store write and read)',
    labelNames: ['check'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const r of read().results) if (r.latencyMs !== undefined) this.set({ check: r.rule }, r.latencyMs / 1000);
    },
  });
  new Gauge({
    name: 'holdfast_health_component_status',
    help: 'Status of each component: 0 operational, 1 degraded or recovering, 2 interrupted',
    labelNames: ['component'] as const,
    registers: [metrics.registry],
    async collect() {
      const { components } = await current();
      this.reset();
      for (const c of components)
        this.set(
          { component: c.id },
          c.status === 'serviceOperational' ? 0 : c.status === 'serviceInterruption' ? 2 : 1,
        );
    },
  });
  new Gauge({
    name: 'holdfast_health_issues_open',
    help: 'Open service health issues, by classification',
    labelNames: ['classification'] as const,
    registers: [metrics.registry],
    async collect() {
      const { active } = await current();
      this.reset();
      for (const classification of ['incident', 'advisory'])
        this.set({ classification }, active.filter((i) => i.classification === classification).length);
    },
  });
}
