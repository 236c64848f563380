// Continuity as Prometheus gauges, read from the store at each scrape (continuity-status.ts): per
// upstream, whether an event is under way (0 normal, 1 active, 2 recovering), how long the upstream
// has been failing, and the event's mail held, replayed and waiting.
import type { Kysely } from 'kysely';
import { Gauge } from 'prom-client';
import type { ContinuitySettings } from '../config/schema.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { continuityStatus } from './continuity-status.ts';

const stateValue = { normal: 0, active: 1, recovering: 2 } as const;

export function watchContinuity(
  metrics: Metrics,
  store: { db: Kysely<Database>; dialect: Dialect },
  settings: ContinuitySettings,
  now: () => number,
) {
  if (settings.upstreams.length === 0) return;
  // One read of the store serves the three gauges of a scrape.
  let last: { at: number; statuses: Promise<Awaited<ReturnType<typeof continuityStatus>>> } | undefined;
  const statuses = () => {
    if (!last || now() - last.at > 1000)
      last = { at: now(), statuses: continuityStatus(store.db, store.dialect, settings, now()) };
    return last.statuses;
  };
  new Gauge({
    name: 'holdfast_continuity_state',
    help: 'Continuity per upstream: 0 normal, 1 event active (mail delivered here too), 2 recovering (replaying)',
    labelNames: ['upstream'] as const,
    registers: [metrics.registry],
    async collect() {
      for (const s of await statuses()) this.set({ upstream: s.upstream }, stateValue[s.state]);
    },
  });
  new Gauge({
    name: 'holdfast_continuity_upstream_failing_seconds',
    help: 'How long the upstream has been failing without a success between (0 when it accepts)',
    labelNames: ['upstream'] as const,
    registers: [metrics.registry],
    async collect() {
      for (const s of await statuses())
        this.set({ upstream: s.upstream }, s.failingSince === null ? 0 : Math.max(0, now() - s.failingSince) / 1000);
    },
  });
  new Gauge({
    name: 'holdfast_continuity_messages',
    help: 'The current or last event: messages held (copied into mailboxes), recipients replayed upstream since recovery, recipients waiting',
    labelNames: ['upstream', 'kind'] as const,
    registers: [metrics.registry],
    async collect() {
      for (const s of await statuses()) {
        this.set({ upstream: s.upstream, kind: 'held' }, s.held);
        this.set({ upstream: s.upstream, kind: 'replayed' }, s.replayed);
        this.set({ upstream: s.upstream, kind: 'waiting' }, s.waiting);
      }
    },
  });
}
