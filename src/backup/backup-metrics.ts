// Scheduled backups as Prometheus gauges, read from backup_runs at each scrape: when the last good
// backup was taken, how old it is, how much it wrote and how long it took, and whether the last run
// failed. An alert on holdfast_backup_age_seconds is the usual way to watch backups from outside.
import type { Kysely } from 'kysely';
import { Gauge } from 'prom-client';
import type { Metrics } from '../metrics/metrics.ts';
import type { Database } from '../store/schema.ts';
import { backupRecord, type BackupRecord } from './backup-runs.ts';

export function watchBackups(metrics: Metrics, db: Kysely<Database>, now: () => number) {
  // The gauges of one scrape share one read of the store.
  let reading: Promise<BackupRecord> | undefined;
  const record = () => (reading ??= backupRecord(db).finally(() => (reading = undefined)));
  const gauge = (name: string, help: string, value: (r: BackupRecord) => number | null | undefined) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        this.reset();
        const v = value(await record());
        if (v !== null && v !== undefined) this.set(v);
      },
    });
  gauge(
    'holdfast_backup_last_success_timestamp_seconds',
    'When the last verified scheduled backup was taken (its snapshot), in seconds since the epoch',
    (r) => r.lastGood && r.lastGood.started_at / 1000,
  );
  gauge(
    'holdfast_backup_age_seconds',
    'Age of the last verified scheduled backup',
    (r) => r.lastGood && (now() - r.lastGood.started_at) / 1000,
  );
  gauge(
    'holdfast_backup_last_size_bytes',
    'Bytes the last verified scheduled backup wrote (new contents and table files)',
    (r) => r.lastGood?.bytes_written,
  );
  gauge(
    'holdfast_backup_last_duration_seconds',
    'How long the last verified scheduled backup took, creation and verification',
    (r) => r.lastGood?.finished_at && (r.lastGood.finished_at - r.lastGood.started_at) / 1000,
  );
  gauge(
    'holdfast_backup_last_run_failed',
    'Whether the last scheduled backup run failed (1) or not (0)',
    (r) => r.last && (r.last.state === 'failed' ? 1 : 0),
  );
}
