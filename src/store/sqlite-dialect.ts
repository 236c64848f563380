// Kysely's SQLite dialect, with two changes. A rollback after SQLite already rolled the transaction
// back by itself is skipped. SQLite does that on some errors (SQLITE_FULL when the disk or
// max_page_count is reached, SQLITE_IOERR, SQLITE_NOMEM); Kysely's ROLLBACK then fails with "cannot
// rollback - no transaction is active", and that error replaces the one that says what went wrong.
// And transactions begin IMMEDIATE (every one of ours writes): a deferred transaction that read first
// fails with "database is locked" at its first write if another process (a worker of `start
// --workers`, the CLI) writes meanwhile — SQLite cannot wait there (busy_timeout does not apply).
// Taking the write lock at BEGIN waits for it instead, without stopping the thread (sqlite-write-lock.ts).
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import { beginWithoutBlocking, type PragmaConnection } from './sqlite-write-lock.ts';

interface TransactionState extends PragmaConnection {
  readonly inTransaction: boolean;
}

export class SqliteDialectKeepingErrors extends SqliteDialect {
  constructor(
    private readonly settings: SqliteDialectConfig,
    private readonly connection: TransactionState,
  ) {
    super(settings);
  }

  override createDriver(): Driver {
    const connection = this.connection;
    let busyTimeoutMs: number | undefined;
    return new (class extends SqliteDriver {
      override async beginTransaction(databaseConnection: DatabaseConnection): Promise<void> {
        busyTimeoutMs ??= Number(connection.pragma('busy_timeout', { simple: true }));
        await beginWithoutBlocking(
          connection,
          () => databaseConnection.executeQuery(CompiledQuery.raw('begin immediate')),
          busyTimeoutMs,
        );
      }
      override async rollbackTransaction(databaseConnection: DatabaseConnection): Promise<void> {
        if (!connection.inTransaction) return;
        await super.rollbackTransaction(databaseConnection);
      }
    })(this.settings);
  }
}
