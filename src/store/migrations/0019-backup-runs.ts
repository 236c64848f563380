// `backup_runs`: one row per backup that `[backup] schedule` started (backup/backup-schedule.ts), so
// that every node knows when the last verified backup was taken: the "Backup" component of service
// health and the backup metrics read it, and the schedule decides from it when the next one is due.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('backup_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    /** running, verified (created and verified), failed */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('backup_id', 'text')
    .addColumn('bytes_written', 'bigint')
    .addColumn('contents', 'bigint')
    .addColumn('messages', 'bigint')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('backup_runs_started').on('backup_runs').column('started_at').execute();
}
