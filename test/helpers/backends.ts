// Runs a suite against each store backend: a real SQLite file in a temporary data dir, and a fresh
// database on the real PostgreSQL named by HOLDFAST_TEST_DATABASE_URL (skipped, saying how to enable
// it, when that variable is unset).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { StoreLocation } from '../../src/store/database.ts';

export const postgresUrl = process.env.HOLDFAST_TEST_DATABASE_URL;
export const postgresSkip = postgresUrl
  ? false
  : 'set HOLDFAST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to run the PostgreSQL tests';

export interface TestBackend {
  location: StoreLocation;
  dataDir: string;
  /** The value for HOLDFAST_DATABASE_URL that selects this store. */
  databaseUrl: string;
  cleanup(): Promise<void>;
}

export const backendNames = ['sqlite', 'postgres'] as const;
export type BackendName = (typeof backendNames)[number];

export const skipFor = (name: BackendName) => (name === 'postgres' ? postgresSkip : false);

export async function tempDir(prefix = 'holdfast-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function createBackend(name: BackendName): Promise<TestBackend> {
  const dataDir = await tempDir();
  if (name === 'sqlite') {
    const path = join(dataDir, 'holdfast.sqlite');
    return {
      location: { kind: 'sqlite', path },
      dataDir,
      databaseUrl: path,
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const database = await createScratchDatabase(postgresUrl!, 'holdfast_test');
  return {
    location: { kind: 'postgres', url: database.url },
    dataDir,
    databaseUrl: database.url,
    cleanup: async () => {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new, empty database on the PostgreSQL server at `serverUrl` (tests, benchmarks): its URL and name, and how to drop it. */
export async function createScratchDatabase(
  serverUrl: string,
  prefix: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(
        () => {},
      ),
  };
}

async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
