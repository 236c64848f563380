// How a transaction's commit reaches the disk. Three ways, chosen per use:
//
// - plain `db.transaction()`: SQLite's synchronous=FULL, the commit is fsync'd before it returns. The
//   thread waits for the disk (better-sqlite3 is synchronous), so nothing else runs meanwhile: only
//   for rare writes (administration, setup). On the mail paths it cost a quarter of the server's
//   time (bench/smtp-intake, session 5).
// - `groupCommit`: the commit is written without fsync, the connection is released at once, and the
//   caller waits for one fdatasync of the WAL file that covers every commit written before it ran
//   (in the libuv thread pool, while other sessions keep working). Concurrent callers share it: the
//   durability of FULL, at the cost of one fsync per batch instead of one per transaction. For what
//   the client is told is stored: accepted mail, APPEND, local delivery, calendar writes.
// - `relaxedCommit`: written without fsync and not waited for. Survives a crash of the process (the
//   data is in the operating system's cache), lost only if the machine fails before the next fsync.
//   For flag changes and expunges, which Dovecot does not fsync either, queue leases and caches.
//
// On PostgreSQL a plain commit is durable and does not block the thread; relaxed commits use
// `synchronous_commit = off`. Both modes run the transaction again when PostgreSQL ended it on a
// deadlock or serialization conflict (transient-retry.ts): the work passed in must have no effect
// outside the transaction before it commits.
import { open, type FileHandle } from 'node:fs/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from './database.ts';
import { carriedBy } from './database-attachments.ts';
import type { Database } from './schema.ts';
import { retryTransient } from './transient-retry.ts';
import { Batcher } from './batcher.ts';

/** One fdatasync at a time of the WAL file; callers arriving meanwhile share the next one. */
export class WalSync {
  private file: FileHandle | undefined;
  /** Callers that ask while a sync runs share the next one (store/batcher.ts). */
  private readonly syncs = new Batcher<void>(async (callers) => {
    this.file ??= await this.openWal();
    await this.file?.datasync();
    return callers.map(() => undefined);
  });

  constructor(private readonly walPath: string) {}

  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void> {
    return this.syncs.add();
  }

  /** The WAL file; none before the first write, and then there is nothing to sync. */
  private async openWal(): Promise<FileHandle | undefined> {
    return open(this.walPath, 'r+').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  }

  async close() {
    await this.syncs.idle();
    await this.file?.close();
    this.file = undefined;
  }
}

/** How commits on one database reach the disk; it carries this under commitTargetKey (database-attachments.ts). */
export interface CommitTarget {
  dialect: Dialect;
  walSync?: WalSync;
  /** SQLite: sets the connection's synchronous mode at once (a pragma through Kysely costs as much as a query). */
  setSynchronous?: (mode: 'normal' | 'full') => void;
}

export const commitTargetKey = Symbol('CommitTarget');

const targetOf = (db: Kysely<Database>) => carriedBy<CommitTarget>(db, commitTargetKey);

export async function relaxedCommit<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const target = targetOf(db);
  if (target.dialect === 'postgres') {
    return retryTransient(() =>
      db.transaction().execute(async (trx) => {
        await sql`set local synchronous_commit = off`.execute(trx);
        return work(trx);
      }),
    );
  }
  const { setSynchronous } = target;
  if (!setSynchronous) throw new Error('a SQLite database without its synchronous setter');
  // SQLite has one connection, held for the whole block: no other transaction commits while the
  // setting is relaxed. In WAL mode NORMAL skips the fsync at commit.
  return db.connection().execute(async (connection) => {
    setSynchronous('normal');
    try {
      return await connection.transaction().execute(work);
    } finally {
      setSynchronous('full');
    }
  });
}

export async function groupCommit<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const target = targetOf(db);
  if (target.dialect === 'postgres') return retryTransient(() => db.transaction().execute(work));
  const { walSync } = target;
  // Every SQLite database openDatabase makes can sync its WAL; one that could not would make the
  // group commit's promise (on disk before the answer) false, so it is an error, not a fallback.
  if (!walSync) throw new Error('a SQLite database without its WAL sync: group commits could not be made durable');
  const result = await relaxedCommit(db, work);
  await walSync.sync();
  return result;
}
