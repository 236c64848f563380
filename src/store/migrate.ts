// Brings a database to the schema this code expects. Refuses a schema newer than the code (a
// downgrade would silently misread data), and keeps a consistent copy of an SQLite database
// before changing it, so a failed upgrade can be undone by putting the copy back.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { unavailable } from '../errors.ts';
import type { DatabaseHandle, Dialect } from './database.ts';
import { latestSchemaVersion, migrations, type Migration } from './migrations/index.ts';
import type { Database } from './schema.ts';

export interface MigrationResult {
  from: number;
  to: number;
  backup?: string;
}

export async function schemaVersion(db: Kysely<Database>): Promise<number> {
  try {
    const row = await db
      .selectFrom('holdfast_schema')
      .select((eb) => eb.fn.max('version').as('version'))
      .executeTakeFirst();
    return Number(row?.version ?? 0);
  } catch {
    return 0; // no version table yet: an empty database
  }
}

export async function migrate(
  handle: DatabaseHandle,
  now = Date.now(),
  available: Migration[] = migrations,
): Promise<MigrationResult> {
  const latest = available.at(-1)?.version ?? latestSchemaVersion;
  const from = await schemaVersion(handle.db);
  if (from > latest) {
    throw unavailable(
      'schema-too-new',
      `the database schema is version ${from} but this Holdfast knows only up to version ${latest}: ` +
        `it was upgraded by a newer Holdfast. Run that version (or newer), or restore a backup taken before the upgrade`,
    );
  }
  if (from === latest) return { from, to: from };

  const backup = from > 0 && handle.sqlite ? await backupSqlite(handle, from, now) : undefined;
  await handle.db.connection().execute(async (conn) => {
    // IMMEDIATE (SQLite) / an advisory lock (PostgreSQL): two processes starting together migrate once.
    await sql.raw(handle.dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(conn);
    try {
      if (handle.dialect === 'postgres') await sql`select pg_advisory_xact_lock(4242001)`.execute(conn);
      await createVersionTable(conn);
      await applyMigrations(conn, handle.dialect, await schemaVersion(conn), latest, now, available);
      await sql.raw('commit').execute(conn);
    } catch (error) {
      await sql
        .raw('rollback')
        .execute(conn)
        .catch(() => {});
      throw error;
    }
  });
  return { from, to: latest, backup };
}

/** The table recording which migrations a database has had (in the caller's transaction). */
export async function createVersionTable(db: Kysely<Database>): Promise<void> {
  await db.schema
    .createTable('holdfast_schema')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
}

/**
 * Applies the migrations after version `from` up to `to`, recording each, inside the caller's
 * transaction: at start up to the latest; a restore to its backup's version first (so the rows fit),
 * then on to the latest once they are loaded.
 */
export async function applyMigrations(
  db: Kysely<Database>,
  dialect: Dialect,
  from: number,
  to: number,
  now: number,
  available: Migration[] = migrations,
): Promise<void> {
  for (const migration of available.filter((m) => m.version > from && m.version <= to)) {
    await migration.up(db, dialect);
    await db
      .insertInto('holdfast_schema')
      .values({ version: migration.version, name: migration.name, applied_at: now })
      .execute();
  }
}

async function backupSqlite(handle: DatabaseHandle, version: number, now: number): Promise<string> {
  const location = handle.location as { path: string };
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  const target = join(dirname(location.path), 'backups', `holdfast-schema-v${version}-${stamp}.sqlite`);
  mkdirSync(dirname(target), { recursive: true });
  // The online backup API copies a consistent snapshot even while other connections write.
  await handle.sqlite!.backup(target);
  return target;
}
