// Kysely's SQLite dialect, with two changes. A rollback after SQLite already rolled the transaction
// back by itself is skipped. SQLite does that on some errors (SQLITE_FULL when the disk or
// max_page_count is reached, SQLITE_IOERR, SQLITE_NOMEM); Kysely's ROLLBACK then fails with "cannot
// rollback - no transaction is active", and that error replaces the one that says what went wrong.
// And transactions begin IMMEDIATE (every one of ours writes): a deferred transaction that read first
// fails with "database is locked" at its first write if another process (a worker of `start
// --workers`, the CLI) writes meanwhile — SQLite cannot wait there (busy_timeout does not apply).
// Taking the write lock at BEGIN waits for it instead. Every statement outside a transaction (BEGIN
// and autocommit ones) waits for another process's lock without stopping the thread (sqlite-write-lock.ts).
import {
  CompiledQuery,
  type QueryResult,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import { withoutBlocking, type PragmaConnection } from './sqlite-write-lock.ts';

interface TransactionState extends PragmaConnection {
  readonly inTransaction: boolean;
}

export class SqliteDialectKeepingErrors extends SqliteDialect {
  constructor(
    private readonly settings: SqliteDialectConfig,
    private readonly connection: TransactionState,
    /** How long a statement that ran out of patience waits in SQLite's busy handler. */
    private readonly busyTimeoutMs: number,
  ) {
    super(settings);
  }

  override createDriver(): Driver {
    const connection = this.connection;
    const { busyTimeoutMs } = this;
    return new (class extends SqliteDriver {
      /** The driver's one connection, its statements outside a transaction waiting without blocking. */
      private patient?: DatabaseConnection;

      override async acquireConnection(): Promise<DatabaseConnection> {
        const inner = await super.acquireConnection();
        // One wrapper for the one connection: Kysely keeps every connection it is handed in a set.
        this.patient ??= {
          executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
            connection.inTransaction
              ? inner.executeQuery<R>(query)
              : withoutBlocking(connection, () => inner.executeQuery<R>(query), busyTimeoutMs),
          streamQuery: (query, chunkSize) => inner.streamQuery(query, chunkSize),
        };
        return this.patient;
      }
      override async beginTransaction(databaseConnection: DatabaseConnection): Promise<void> {
        await databaseConnection.executeQuery(CompiledQuery.raw('begin immediate'));
      }
      override async rollbackTransaction(databaseConnection: DatabaseConnection): Promise<void> {
        if (!connection.inTransaction) return;
        await super.rollbackTransaction(databaseConnection);
      }
    })(this.settings);
  }
}
