// Opens the one database Holdfast keeps its state in: an embedded SQLite file or PostgreSQL.
// Both are driven through Kysely so the rest of the code writes each query once.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect } from 'kysely';
import { SqliteDialectKeepingErrors } from './sqlite-dialect.ts';
import { type CommitTarget, commitTargetKey, WalSync } from './commit-modes.ts';
import { carrying } from './database-attachments.ts';
import { PreparedQueries, preparedQueriesKey } from './prepared-query.ts';
import { checkpointInBackground } from './wal-checkpointer.ts';
import type { Database } from './schema.ts';

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  location: StoreLocation;
  /** The raw SQLite connection (for online backups); undefined on PostgreSQL. */
  sqlite?: SqliteDatabase.Database;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** SQLite: checkpoint the WAL in a worker thread (the server), not inside commits (see wal-checkpointer.ts). */
  backgroundCheckpoints?: boolean;
  /** Reports a checkpoint that failed (it is retried on the next tick). */
  onCheckpointError?: (error: string) => void;
}

/** Opens the database; each driver is loaded only when its backend is used. */
export async function openDatabase(
  location: StoreLocation,
  options: OpenDatabaseOptions = {},
): Promise<DatabaseHandle> {
  if (location.kind === 'postgres') {
    const { default: pg } = await import('pg');
    // int8 (bigint, count(*)) arrives as a string by default; our integers stay well inside 2^53.
    pg.types.setTypeParser(20, (value) => Number(value));
    const pool = new pg.Pool({
      connectionString: location.url,
      max: 10,
      Client: withNamedStatements(pg.Client),
      // While the server is gone (a failover, a restart) a statement fails within this bound rather
      // than waiting: a refused or reset connection fails at once, a silent network (packets
      // dropped) after this long; the caller answers with a temporary failure (store-unavailable.ts).
      // It also bounds the wait for a free connection, which past 10 s is an outage as far as a
      // client is concerned. The next statement connects again by itself.
      connectionTimeoutMillis: 10_000,
      // A connection whose server vanished without a word (a killed VM) is found out by TCP.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle client that loses its server must not crash the process; the pool drops it and the
    // next query connects anew (checked-out clients are covered in withNamedStatements).
    pool.on('error', () => {});
    const commit: CommitTarget = { dialect: 'postgres' };
    const db = new Kysely<Database>({
      dialect: carrying(new PostgresDialect({ pool }), {
        [preparedQueriesKey]: new PreparedQueries('postgres'),
        [commitTargetKey]: commit,
      }),
    });
    return { db, dialect: 'postgres', location, close: () => db.destroy() };
  }

  const { default: SqliteDatabase } = await import('better-sqlite3');
  // How long a statement that another process keeps from the write lock past its patience waits
  // (thread stopped) before it fails with "database is locked".
  const busyTimeoutMs = 5000;
  mkdirSync(dirname(location.path), { recursive: true });
  const sqlite = new SqliteDatabase(location.path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: every commit is fsync'd before it returns, which is what a `250` reply promises. The busy
  // paths commit in groups instead, with the same guarantee (see commit-modes.ts).
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // The CLI and the server (and the workers of `start --workers`) share the file: a writer waits for
  // the others rather than failing, without stopping this thread (sqlite-write-lock.ts).
  sqlite.pragma('busy_timeout = 0');
  const statements = withStatementCache(sqlite);
  const preparedQueries = new PreparedQueries('sqlite', {
    available: (isTransaction) => isTransaction || !sqlite.inTransaction,
    run(source, parameters) {
      // As Kysely's SQLite driver does it.
      const statement = statements.prepare(source);
      if (statement.reader) return { rows: statement.all(parameters) };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    },
  });
  const walSync = new WalSync(`${location.path}-wal`);
  const commit: CommitTarget = {
    dialect: 'sqlite',
    walSync,
    setSynchronous: (mode) => sqlite.pragma(`synchronous = ${mode}`),
  };
  const db = new Kysely<Database>({
    dialect: carrying(new SqliteDialectKeepingErrors({ database: statements }, sqlite, busyTimeoutMs), {
      [preparedQueriesKey]: preparedQueries,
      [commitTargetKey]: commit,
    }),
  });
  const checkpointer = options.backgroundCheckpoints
    ? checkpointInBackground(sqlite, location.path, options.onCheckpointError)
    : undefined;
  return {
    db,
    dialect: 'sqlite',
    location,
    sqlite,
    close: async () => {
      // The worker's connection closes first, so that closing the server's (the last) checkpoints
      // what is left and removes the WAL.
      await checkpointer?.stop();
      await walSync.close();
      await db.destroy();
    },
  };
}

/**
 * pg sends each query as an unnamed statement, which PostgreSQL parses and plans again at every run:
 * a third of its CPU on the mail path (bench/smtp-intake: 8.5 → 5.5 ms of backend CPU per message).
 * Holdfast's queries come from a fixed set of shapes with their values as parameters, so each text
 * with parameters is given a name and prepared once per connection. Bounded: past 2,000 texts (an
 * `in (…)` list of a new length is a new text) the rest run unnamed. Texts without parameters stay
 * on the simple protocol (it allows several statements in one text, as migrations write them).
 * Names are per text, prepared again on each new connection (after a failover too).
 * A prepared `select *` fails once its table's columns change: a migration run while other nodes
 * are up needs them restarted, as the new code does anyway.
 */
function withNamedStatements(Client: typeof import('pg').Client): typeof import('pg').Client {
  const names = new Map<string, string>();
  return class extends Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's Client constructor options, passed through as they are
    constructor(...args: any[]) {
      super(...args);
      // pg emits 'error' on a client whose connection breaks. The pool listens only while the client
      // is idle; one checked out (between two statements of a transaction) would have no listener,
      // and an unheard 'error' ends the process. The statements on it fail by themselves, and the
      // pool drops a client that is no longer queryable when it is released.
      this.on('error', () => {});
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's Client.query has a dozen overloads; this one passes every call through
    override query(config: any, values?: any, callback?: any): any {
      if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
        let name = names.get(config);
        if (name === undefined && names.size < 2000) names.set(config, (name = `holdfast_${names.size}`));
        if (name) return super.query({ name, text: config, values }, callback);
      }
      return super.query(config, values, callback);
    }
  };
}

export function describeLocation(location: StoreLocation): string {
  if (location.kind === 'sqlite') return `SQLite ${location.path}`;
  const url = new URL(location.url);
  if (url.password) url.password = '***';
  return `PostgreSQL ${url.toString()}`;
}

/**
 * Kysely prepares every query afresh; parsing SQL then costs more than running it. Queries are built
 * from a fixed set of shapes (values are bound parameters), so prepared statements are kept by their
 * SQL text and reused.
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(source: string) {
      let statement = statements.get(source);
      if (!statement) {
        statement = sqlite.prepare(source);
        if (statements.size > 2000) statements.clear(); // a bound, in case some query shape varies endlessly
        statements.set(source, statement);
      }
      return statement;
    },
  } as unknown as SqliteDatabase.Database;
}
