// Is there a recent verified backup? With `[backup] schedule` on, an advisory opens when the last
// good backup is older than the schedule allows (one and a half periods and ten minutes), with the
// last run's error; off, there is nothing to check. A shared check: the record is in the store.
import { allowedBackupAgeMs, backupRecord } from '../../backup/backup-runs.ts';
import type { BackupSettings } from '../../config/schema.ts';
import type { CheckResult } from '../check-result.ts';
import type { ProbeContext } from './probe-context.ts';

export async function checkBackups(context: ProbeContext, settings: BackupSettings): Promise<CheckResult[]> {
  if (settings.everyMs === undefined) return [];
  const { lastGood, last, first } = await backupRecord(context.db);
  const now = context.now();
  const allowedMs = allowedBackupAgeMs(settings.everyMs);
  // Without a good backup yet, the schedule's first try is when the wait began.
  const since = lastGood?.started_at ?? first?.started_at;
  const overdue = since !== undefined && now - since > allowedMs;
  const lastError = last?.state === 'failed' && last.error ? ` The last try failed: ${last.error}` : '';
  const detail = lastGood
    ? `The last verified backup was taken ${hours(now - lastGood.started_at)} ago (${lastGood.backup_id} in ${lastGood.target}); the schedule allows ${hours(allowedMs)}.${lastError}`
    : since === undefined
      ? 'No backup has been taken yet; the first is due within a minute of the schedule starting.'
      : `No backup has been verified since the schedule first tried, ${hours(now - since)} ago.${lastError}`;
  return [
    {
      rule: 'backup',
      component: 'Backup',
      state: overdue ? 'failing' : 'healthy',
      detail,
      issue: {
        classification: 'advisory',
        origin: 'customer',
        title: lastGood
          ? `The last verified backup is ${hours(now - lastGood.started_at)} old`
          : 'No verified backup has been taken',
        impact:
          'Mail and calendars keep working. If the store were lost now, what changed since the last verified backup could not be restored.',
        feature: 'Scheduled backups',
        publicSummary: 'Backups are behind schedule',
        scope: { tenants: [], forests: [], regions: [], nodes: [] },
      },
    },
  ];
}

const hours = (ms: number) =>
  ms < 2 * 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
