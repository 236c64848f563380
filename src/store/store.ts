// The store: the database (through Kysely) plus the blob store that belongs with it.
// Small content is kept inside the database on both (see inline-blob.ts). Larger content: files in
// the data dir with SQLite; inside the database with PostgreSQL, so that several nodes share it
// without a shared filesystem.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { BlobStore } from './blobs/blob-store.ts';
import { DatabaseBlobStore } from './blobs/database-blob-store.ts';
import { FileBlobStore } from './blobs/file-blob-store.ts';
import { LayeredBlobStore } from './blobs/layered-blob-store.ts';
import {
  openDatabase,
  type DatabaseHandle,
  type Dialect,
  type OpenDatabaseOptions,
  type StoreLocation,
} from './database.ts';
import { migrate, type MigrationResult } from './migrate.ts';
import { keepPrivate } from './private-files.ts';
import type { Database } from './schema.ts';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  handle: DatabaseHandle;
  close(): Promise<void>;
}

export interface OpenStoreOptions extends OpenDatabaseOptions {
  location: StoreLocation;
  dataDir: string;
  now?: () => number;
  /**
   * Tightens the permissions of everything under the data dir, every content file included (the
   * server's start). Without it only the data dir and the database's own files are checked: a
   * command's start must not cost a walk of a store's many thousand files, and what it creates is
   * private through the umask.
   */
  tightenAll?: boolean;
}

/** An SQLite database's files, wherever it is (never its whole directory, which may be shared). */
const sqliteFiles = (path: string) => [path, `${path}-wal`, `${path}-shm`, join(dirname(path), 'backups')];

/** Opens the store and brings its schema up to date (refusing a newer one). */
export async function openStore(
  options: OpenStoreOptions,
): Promise<{ store: Store; migration: MigrationResult; madePrivate: number }> {
  // Before anything is created: the database, its WAL, blobs and backups are for Holdfast's user only.
  const madePrivate = await keepPrivate(
    [options.dataDir, ...(options.location.kind === 'sqlite' ? sqliteFiles(options.location.path) : [])],
    { walk: options.tightenAll ?? false },
  );
  const handle = await openDatabase(options.location, options);
  try {
    const migration = await migrate(handle, (options.now ?? Date.now)());
    const inDatabase = new DatabaseBlobStore(handle.db, options.now);
    const blobs =
      handle.dialect === 'sqlite'
        ? new LayeredBlobStore(inDatabase, new FileBlobStore(join(options.dataDir, 'blobs'), options.now))
        : inDatabase;
    return {
      store: { db: handle.db, dialect: handle.dialect, blobs, handle, close: () => handle.close() },
      migration,
      madePrivate,
    };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/**
 * Whether a store was ever created at this location (an SQLite file, or a PostgreSQL database with
 * Holdfast's schema), found without creating anything: administrative commands must not start a
 * second, empty installation beside the server's.
 */
export async function storeExists(location: StoreLocation): Promise<boolean> {
  if (location.kind === 'sqlite') return existsSync(location.path);
  const handle = await openDatabase(location);
  try {
    // Asked directly, not through schemaVersion(), so that a server that cannot be reached is
    // reported as that, never as a missing installation.
    const { rows } = await sql<{ found: string | null }>`select to_regclass('holdfast_schema')::text as found`.execute(
      handle.db,
    );
    return Boolean(rows[0]?.found);
  } finally {
    await handle.close();
  }
}
