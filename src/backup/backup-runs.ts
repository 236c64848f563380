// The record of scheduled backups (table backup_runs, migration 19): what the schedule writes as a
// backup starts and ends, and what service health, the metrics and the schedule read back.
import type { Kysely, Selectable } from 'kysely';
import type { BackupRunTable, Database } from '../store/schema.ts';

export type BackupRun = Selectable<BackupRunTable>;

export interface BackupRecord {
  /** The newest run that was created and verified (or created, when verification is off). */
  lastGood?: BackupRun;
  /** The newest run, whatever became of it. */
  last?: BackupRun;
  /** The oldest run kept: when the schedule first tried. */
  first?: BackupRun;
}

export async function backupRecord(db: Kysely<Database>): Promise<BackupRecord> {
  const newest = (good: boolean) => {
    let query = db.selectFrom('backup_runs').selectAll().orderBy('started_at', 'desc').limit(1);
    if (good) query = query.where('state', '=', 'verified');
    return query.executeTakeFirst();
  };
  const [lastGood, last, first] = await Promise.all([
    newest(true),
    newest(false),
    db.selectFrom('backup_runs').selectAll().orderBy('started_at').limit(1).executeTakeFirst(),
  ]);
  return { lastGood, last, first };
}

/** How long the last good backup may be old before service health says so: one and a half periods and ten minutes. */
export const allowedBackupAgeMs = (everyMs: number) => everyMs * 1.5 + 10 * 60_000;
