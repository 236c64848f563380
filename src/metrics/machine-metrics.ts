// /metrics for the whole machine under `holdfast start --workers N`: the worker that answers a scrape
// adds up its own figures and the other workers' (gathered through the primary, server/workers.ts),
// so a scrape shows the machine whichever worker the primary handed it to. How each metric adds up
// is decided here, by name, for every gauge (a gauge's meaning decides it: sessions open add up, a
// limit does not, a figure read from the shared store is read once); counters and histograms are
// summed. The merging itself is prom-client's (AggregatorRegistry.aggregate, its aggregators); its
// transport (AggregatorRegistry.clusterMetrics) does not fit: the primary serves no HTTP, a scrape
// must answer with the workers that did answer when one is slow or dying rather than fail, and the
// store-read gauges would be queried once per worker.
import { AggregatorRegistry, type Aggregator, Gauge, type PrometheusContentType, type Registry } from 'prom-client';

/** One metric as a registry gives it (getMetricsAsJSON): what travels between the processes. */
export interface Figure {
  name: string;
  help: string;
  type: string;
  aggregator?: Aggregator;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/**
 * How a metric's figures from several workers make the machine's: one of prom-client's aggregators,
 * one per series by its labels, or "once" — read from the shared store, so the same in every worker:
 * only the worker answering the scrape reads it (the others do not even collect it).
 */
export type Combine = Aggregator | 'once' | ((labels: Figure['values'][number]['labels']) => Aggregator);

/**
 * Every gauge Holdfast registers, with how it adds up over the workers; counters and histograms not
 * named here are summed, prom-client's default metrics keep their own aggregators unless named here.
 */
export const machineCombine: Readonly<Record<string, Combine>> = {
  // Each worker's own sessions, KDF queue and cache of verified sign-ins: the machine's are the sum.
  holdfast_sessions: 'sum',
  holdfast_kdf_queue: 'sum',
  holdfast_auth_cache_entries: 'sum',
  // Open connections add up (each worker counts its own); the forest's limit is the same everywhere.
  holdfast_forest_connections: (labels) => (labels.kind === 'limit' ? 'max' : 'sum'),
  // The last result of each check on the workers: the worst of them (a shared check has one holder).
  holdfast_health_check_state: 'max',
  holdfast_health_check_latency_seconds: 'max',
  // Read from the store at the scrape.
  holdfast_health_component_status: 'once',
  holdfast_health_issues_open: 'once',
  holdfast_queue_recipients: 'once',
  holdfast_queue_destination_recipients: 'once',
  holdfast_queue_oldest_age_seconds: 'once',
  holdfast_continuity_state: 'once',
  holdfast_continuity_upstream_failing_seconds: 'once',
  holdfast_continuity_messages: 'once',
  holdfast_backup_last_success_timestamp_seconds: 'once',
  holdfast_backup_age_seconds: 'once',
  holdfast_backup_last_size_bytes: 'once',
  holdfast_backup_last_duration_seconds: 'once',
  holdfast_backup_last_run_failed: 'once',
  // prom-client omits the start time in a cluster; the youngest worker's makes a worker's restart show.
  holdfast_process_start_time_seconds: 'max',
  // A per-process limit: the same in every worker.
  holdfast_process_max_fds: 'min',
};

/** The figures of this process's registry that the other workers add up: all but those read once. */
export async function workerFigures(registry: Registry): Promise<Figure[]> {
  const metrics = registry.getMetricsAsArray() as unknown as { name: string; get(): Promise<Figure> | Figure }[];
  return Promise.all(metrics.filter((m) => machineCombine[m.name] !== 'once').map(async (m) => await m.get()));
}

/**
 * The machine's registry from the figures of the answering worker (`own`: all of its registry) and
 * of the others that answered (`others`, without those read once); `workers` says how many reported
 * and how many did not answer in time (holdfast_scrape_workers).
 */
export function machineRegistry(
  own: Figure[],
  others: Figure[][],
  workers: { reported: number; missing: number },
): Registry {
  const byName = new Map<string, Figure[]>();
  for (const figures of [own, ...others])
    for (const figure of figures) {
      const same = byName.get(figure.name);
      if (same) same.push(figure);
      else byName.set(figure.name, [figure]);
    }
  const merged: Figure[] = [];
  for (const [name, figures] of byName) {
    const combine = machineCombine[name];
    if (typeof combine === 'function') merged.push(bySeries(figures, combine));
    else if (combine === 'once') merged.push({ ...figures[0]!, aggregator: 'first' });
    else for (const figure of figures) merged.push({ ...figure, aggregator: combine ?? figure.aggregator ?? 'sum' });
  }
  // aggregate() takes one list per registry and merges by name; the lists' boundaries do not matter.
  const registry = AggregatorRegistry.aggregate<PrometheusContentType>([merged]);
  const scraped = new Gauge({
    name: 'holdfast_scrape_workers',
    help: 'Workers of --workers whose figures this scrape adds up (state="reported") and those that did not answer in time (state="missing")',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  scraped.set({ state: 'reported' }, workers.reported);
  scraped.set({ state: 'missing' }, workers.missing);
  return registry;
}

/** One metric whose series add up differently by their labels: each series with its own aggregator. */
function bySeries(figures: Figure[], combine: (labels: Figure['values'][number]['labels']) => Aggregator): Figure {
  const series = new Map<string, { value: Figure['values'][number]; seen: number[] }>();
  for (const figure of figures)
    for (const value of figure.values) {
      const key = JSON.stringify([value.metricName, Object.entries(value.labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
      const known = series.get(key);
      if (known) known.seen.push(value.value);
      else series.set(key, { value, seen: [value.value] });
    }
  const values: Figure['values'] = [];
  for (const { value, seen } of series.values()) {
    const how = combine(value.labels);
    if (how === 'omit') continue;
    values.push({ ...value, value: combined[how](seen) });
  }
  return { ...figures[0]!, values, aggregator: 'first' };
}

const combined: Record<Exclude<Aggregator, 'omit'>, (values: number[]) => number> = {
  sum: (v) => v.reduce((a, b) => a + b, 0),
  first: (v) => v[0]!,
  min: (v) => Math.min(...v),
  max: (v) => Math.max(...v),
  average: (v) => v.reduce((a, b) => a + b, 0) / v.length,
};
