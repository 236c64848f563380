// The store a benchmarked Holdfast runs on: SQLite in its data directory (the default), or, with
// `--database postgres://…`, a fresh PostgreSQL database created on that server for the one
// measurement and dropped after it, so that runs never see each other's data.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

/** The option every bench takes (node:util parseArgs shape). */
export const databaseOption = { database: { type: 'string' } } as const;

export interface BenchStore {
  /** For result tables: "SQLite" or "PostgreSQL". */
  name: string;
  /** What the CLI and the server need in their environment to use this store. */
  env: Record<string, string>;
  /** A read query, with `?` for each parameter (either database). */
  query<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** Closes the reading connection; drops the PostgreSQL database. */
  remove(): Promise<void>;
}

export const storeName = (databaseUrl: string | undefined) => (databaseUrl ? 'PostgreSQL' : 'SQLite');

export async function createBenchStore(dataDir: string, databaseUrl: string | undefined): Promise<BenchStore> {
  if (!databaseUrl) {
    let db: SqliteDatabase.Database | undefined;
    return {
      name: 'SQLite',
      env: {},
      async query<T>(sql: string, ...params: unknown[]) {
        // Opened at the first read: the CLI or the server creates the file.
        db ??= new SqliteDatabase(join(dataDir, 'holdfast.sqlite'), { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 5000');
        return db.prepare(sql).all(...params) as T[];
      },
      async remove() {
        db?.close();
      },
    };
  }
  const database = `holdfast_bench_${randomBytes(6).toString('hex')}`;
  await withClient(databaseUrl, (client) => client.query(`create database ${database}`));
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  return {
    name: 'PostgreSQL',
    env: { HOLDFAST_DATABASE_URL: url.toString() },
    async query<T>(sql: string, ...params: unknown[]) {
      let n = 0;
      return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows.map((row) => numbers(row)) as T[];
    },
    async remove() {
      await pool.end();
      await withClient(databaseUrl, (client) => client.query(`drop database if exists ${database} with (force)`));
    },
  };
}

/** count(*) arrives from pg as a string. */
function numbers(row: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]));
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
