// The store a benchmarked Holdfast runs on: SQLite in its data directory (the default), or, with
// `--database postgres://…`, a fresh PostgreSQL database created on that server for the one
// measurement and dropped after it, so that runs never see each other's data.
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { createScratchDatabase } from '../../test/helpers/backends.ts';
import { watchProcessesCpu } from './process-cpu.ts';

export interface BenchStore {
  /** For result tables: "SQLite" or "PostgreSQL". */
  name: string;
  /** What the CLI and the server need in their environment to use this store. */
  env: Record<string, string>;
  /** CPU seconds the database server has spent on this store so far (SQLite: 0, it runs inside Holdfast). */
  serverCpuSeconds(): number;
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
      serverCpuSeconds: () => 0,
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
  const database = await createScratchDatabase(databaseUrl, 'holdfast_bench');
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // An idle client whose backend is ended (the server restarted, another engineer's test) must not
  // end the run; the next query reports it.
  pool.on('error', () => {});
  // The server's backends for this database name it in their command line (a server on this machine).
  const cpu = watchProcessesCpu(` ${database.name} `);
  return {
    name: 'PostgreSQL',
    env: { HOLDFAST_DATABASE_URL: database.url },
    serverCpuSeconds: () => cpu.seconds(),
    async query<T>(sql: string, ...params: unknown[]) {
      let n = 0;
      return (
        await pool.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows.map((row) => numbers(row)) as T[];
    },
    async remove() {
      cpu.stop();
      await pool.end();
      await database.drop();
    },
  };
}

/** count(*) arrives from pg as a string. */
function numbers(row: Record<string, unknown>) {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]),
  );
}
