// Creating or upgrading the schema inside the caller's transaction, to a given version: a restore
// creates the schema of the backup (so its rows fit), loads them, then upgrades to this Holdfast's
// schema, all in one transaction, so a failure anywhere leaves the target as it was. The same steps
// and version table as store/migrate.ts, which runs them in a transaction of its own.
import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../store/database.ts';
import { migrations } from '../store/migrations/index.ts';
import type { Database } from '../store/schema.ts';

export async function migrateWithin(
  trx: Transaction<Database> | Kysely<Database>,
  dialect: Dialect,
  from: number,
  to: number,
  now: number,
): Promise<void> {
  if (from === 0)
    await trx.schema
      .createTable('holdfast_schema')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
  for (const migration of migrations.filter((m) => m.version > from && m.version <= to)) {
    await migration.up(trx, dialect);
    await trx
      .insertInto('holdfast_schema')
      .values({ version: migration.version, name: migration.name, applied_at: now })
      .execute();
  }
}
