// Loads rows and contents into a store, for a restore (from a backup's files) and a copy (from another
// store's snapshot). Everything happens in one transaction: the schema of the source's version,
// the rows, the contents, the upgrade to this Holdfast's schema and the fix-ups
// (restored-identities.ts). A failure leaves the target as it was: nothing on PostgreSQL; on SQLite
// the new database is built in a temporary file renamed into place only when complete, and
// content files written beside it are removed again.
//
// Contents go back the way the target's own store keeps them: small ones inline in the database
// (inline-blob.ts, written in the load's transaction), larger ones through its blob store (files
// beside SQLite, chunks in PostgreSQL).
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { sql, type Kysely, type Transaction } from 'kysely';
import { invalid } from '../errors.ts';
import { DatabaseBlobStore } from '../store/blobs/database-blob-store.ts';
import type { BlobSource } from '../store/blobs/blob-store.ts';
import { FileBlobStore } from '../store/blobs/file-blob-store.ts';
import {
  inlineBlob,
  inlineBlobLimit,
  inlineChunksKey,
  writeInlineBlobs,
  type InlineBlob,
} from '../store/blobs/inline-blob.ts';
import { openDatabase, type DatabaseHandle, type StoreLocation } from '../store/database.ts';
import { applyMigrations, createVersionTable, schemaVersion } from '../store/migrate.ts';
import { latestSchemaVersion } from '../store/migrations/index.ts';
import { keepPrivate } from '../store/private-files.ts';
import type { Database } from '../store/schema.ts';
import { recountFolderBytes, renewClientIdentities, setSequencesPastIds } from './restored-identities.ts';
import { quoteIdentifier } from './sql-names.ts';
import { syncDirectory, syncedWhileWritten } from './durable-files.ts';
import { columnsOf, type TableInfo } from './table-catalog.ts';
import { deferIndexesAndTriggers } from './deferred-indexes.ts';
import { flatten, yieldToEventLoop } from './snapshot-shape.ts';
import { chain, readHead, type HeadRead } from './content-stream.ts';
import type { PooledContent } from './content-pool.ts';
import { BoundedWork } from './bounded-work.ts';

/** What is loaded: a backup read back, or a live store's snapshot. */
export interface LoadSource {
  schemaVersion: number;
  tables: TableInfo[];
  /** A table's rows as arrays in the order of its columns, in batches. */
  rows(table: TableInfo): AsyncIterable<unknown[][]>;
  contents(): AsyncIterable<{ hash: string }>;
  openContent(hash: string): Readable;
  /**
   * Every content with its bytes, read ahead in the order the source reads fastest (a backup's
   * packs), and whether the source checked them against their hash already; without it, contents
   * are opened one by one in the order of `contents`. With `lent`, each content's bytes are valid
   * only until the next is asked for (the load is done with them by then).
   */
  readContents?(options: { lent: boolean }): AsyncIterable<PooledContent>;
  /** Where a content comes from, for messages about it. */
  describeContent(hash: string): string;
  /** What the source is, for messages ("backup backup-…", "the source store"). */
  name: string;
}

export interface LoadTarget {
  location: StoreLocation;
  /** Where an SQLite target keeps its content files (blobs/); unused for PostgreSQL. */
  dataDir: string;
}

export interface LoadOptions {
  now: number;
  /** New UIDVALIDITY and calendar sync floors (a restore); a copy of a stopped store keeps them. */
  renewIdentities: boolean;
  /**
   * The target holds an earlier copy of the same source at the same schema version: its rows are
   * replaced, contents it has already are kept (a catch-up). Otherwise the target must be empty.
   */
  replace?: boolean;
  onProgress?: (progress: { table?: string; rows?: number; blobs?: number }) => void;
  /** Reports a missing or damaged content and goes on (verify); without it the load fails. */
  onContentProblem?: (problem: string) => void;
}

export interface LoadResult {
  counts: Record<string, number>;
  contents: number;
  /** Contents the target had already (a catch-up) and were not copied again. */
  contentsKept: number;
  contentBytes: number;
  schemaVersion: number;
  migratedTo: number;
  renewed?: { folders: number; calendars: number };
}

/** Rows per insert statement at most; fewer for wide tables (SQLite binds at most 32,766 values). */
const rowsPerInsert = 500;
const bytesPerInsert = 4 * 1024 * 1024;
const inlinePerBatch = 200;

export async function loadStore(source: LoadSource, target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  if (source.schemaVersion > latestSchemaVersion)
    throw invalid(
      'backup-schema-too-new',
      `${source.name} has schema version ${source.schemaVersion} but this Holdfast knows only up to version ` +
        `${latestSchemaVersion}: restore it with the Holdfast that made it (or a newer one)`,
    );
  if (source.schemaVersion < 1) throw invalid('backup-schema-missing', `${source.name} has no schema version`);
  const location = target.location;
  const sqlitePath = location.kind === 'sqlite' ? location.path : undefined;
  // What the server would make private at start, before anything is written (PostgreSQL: nothing on disk).
  if (sqlitePath) await keepPrivate([target.dataDir, sqlitePath, join(dirname(sqlitePath), 'backups')]);
  // A new SQLite database is built beside its final name and renamed into place when complete.
  const buildPath =
    sqlitePath && !options.replace ? `${sqlitePath}.restoring-${randomBytes(4).toString('hex')}` : sqlitePath;
  const handle = await openDatabase(buildPath ? { kind: 'sqlite', path: buildPath } : location);
  // A new SQLite file is synced once at the end instead of at each commit, and built with its
  // journal in memory: it is discarded if the load fails, so nothing needs to survive a crash until
  // it is complete. It goes back to WAL before it is closed (below). The page cache holds the
  // B-trees' inner pages (the content-hash keys of 100,000 messages are about 25 MB) but not the
  // contents: with a cache of 256 MB, writing 180 MB of contents took 2.5 times as long as with
  // 16 MB, most of it in the commit's write of the cached pages.
  const building = handle.sqlite && !options.replace ? handle.sqlite : undefined;
  if (building) {
    building.pragma('synchronous = OFF');
    building.pragma('journal_mode = MEMORY');
    building.pragma('cache_size = -32768');
  }
  const files = sqlitePath ? new FileBlobStore(join(target.dataDir, 'blobs'), () => options.now) : undefined;
  const filesWritten: string[] = [];
  try {
    const load = () =>
      handle.db.transaction().execute((trx) => loadWithin(trx, handle, source, options, files, filesWritten));
    const result = building ? await syncedWhileWritten(buildPath!, load) : await load();
    if (sqlitePath && buildPath !== sqlitePath) {
      // The finished file is in WAL mode like every store (recorded in its header, kept on close).
      const mode = building?.pragma('journal_mode = WAL', { simple: true });
      if (building && mode !== 'wal') throw new Error(`the restored database did not switch to WAL (it is ${mode})`);
      await handle.close();
      const file = await open(buildPath!, 'r+');
      await file.sync();
      await file.close();
      await rename(buildPath!, sqlitePath);
      await syncDirectory(dirname(sqlitePath));
    } else await handle.close();
    return result;
  } catch (error) {
    await handle.close().catch(() => {});
    if (buildPath && buildPath !== sqlitePath)
      for (const suffix of ['', '-wal', '-shm']) await rm(`${buildPath}${suffix}`, { force: true });
    for (const hash of filesWritten) await files?.deleteIfStoredBefore(hash, Number.MAX_SAFE_INTEGER).catch(() => {});
    throw error;
  }
}

async function loadWithin(
  trx: Transaction<Database>,
  handle: DatabaseHandle,
  source: LoadSource,
  options: LoadOptions,
  files: FileBlobStore | undefined,
  filesWritten: string[],
): Promise<LoadResult> {
  const dialect = handle.dialect;
  if (options.replace) {
    const version = await schemaVersion(trx);
    if (version !== source.schemaVersion)
      throw invalid(
        'target-schema-differs',
        `the target's schema is version ${version} and ${source.name}'s is ${source.schemaVersion}: copy into an empty target instead`,
      );
    await emptyTables(trx, dialect, source.tables);
  } else {
    // The backup's schema first, so that its rows fit; the upgrade to this Holdfast's follows the load.
    await createVersionTable(trx);
    await applyMigrations(trx, dialect, 0, source.schemaVersion, options.now);
  }

  await requireSameColumns(trx, dialect, source);
  const remakeIndexes =
    handle.sqlite && !options.replace
      ? deferIndexesAndTriggers(
          handle.sqlite,
          source.tables.map((t) => t.name),
        )
      : undefined;
  // The rows and the contents are loaded at the same time: the contents arrive from the pack
  // reading workers, and while the main thread waits for them it loads rows. Neither refers to the
  // other until the load is complete (a message's content is looked up by its hash only when read).
  const counts: Record<string, number> = {};
  const [, contents] = await bothOrNeither(
    async (stop) => {
      for (const table of source.tables) {
        counts[table.name] = handle.sqlite
          ? await loadSqliteTable(handle.sqlite, table, source.rows(table), options, stop)
          : await loadTable(trx, table, source.rows(table), options, stop);
        options.onProgress?.({ table: table.name, rows: counts[table.name] });
      }
    },
    (stop) => loadContents(trx, source, options, files, filesWritten, remakeIndexes ? handle.sqlite : undefined, stop),
  );
  remakeIndexes?.();
  if (options.replace) await dropUnreferencedContents(trx);
  await applyMigrations(trx, dialect, source.schemaVersion, latestSchemaVersion, options.now);
  await recountFolderBytes(trx);
  if (dialect === 'postgres') await setSequencesPastIds(trx);
  const renewed = options.renewIdentities ? await renewClientIdentities(trx, dialect, options.now) : undefined;
  return {
    counts,
    ...contents,
    schemaVersion: source.schemaVersion,
    migratedTo: latestSchemaVersion,
    ...(renewed ? { renewed } : {}),
  };
}

/**
 * Every table of the source has the columns the target's schema of the same version has (a source
 * made by a development build of that version may not): said before anything is loaded.
 */
async function requireSameColumns(trx: Transaction<Database>, dialect: 'sqlite' | 'postgres', source: LoadSource) {
  for (const table of source.tables) {
    const expected = await columnsOf(trx, dialect, table.name);
    const unknown = table.columns.filter((c) => !expected.includes(c));
    if (expected.length > 0 && unknown.length === 0) continue;
    const what =
      expected.length === 0 ? `a table ${table.name}` : `column(s) ${unknown.join(', ')} in table ${table.name}`;
    throw invalid(
      'backup-schema-differs',
      `${source.name} has ${what} that schema version ${source.schemaVersion} of this Holdfast does not have: ` +
        'it was made by a different build; restore it with the Holdfast that made it',
    );
  }
}

/**
 * SQLite: one prepared statement run per row, on the connection the load's transaction is open on
 * (better-sqlite3 runs it in that transaction). A statement costs no round trip there, and building
 * a multi-row insert cost more than the rows (Kysely compiles hundreds of parameters each time).
 */
async function loadSqliteTable(
  connection: NonNullable<DatabaseHandle['sqlite']>,
  table: TableInfo,
  batches: AsyncIterable<unknown[][]>,
  options: LoadOptions,
  stop: AbortSignal,
): Promise<number> {
  const insert = connection.prepare(
    `insert into ${quoteIdentifier(table.name)} (${table.columns.map(quoteIdentifier).join(', ')}) values (${table.columns.map(() => '?').join(', ')})`,
  );
  let count = 0;
  let sinceTurn = 0;
  for await (const batch of batches) {
    for (const values of batch) {
      // In place: each row's array is the source's to give away, and a copy per row adds up over 100,000s.
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (value instanceof Uint8Array && !Buffer.isBuffer(value)) values[i] = Buffer.from(value);
      }
      insert.run(values);
      if (++count % 50_000 === 0) options.onProgress?.({ table: table.name, rows: count });
    }
    // A turn for the contents arriving meanwhile, every 5,000 rows or so.
    sinceTurn += batch.length;
    if (sinceTurn >= 5_000) {
      sinceTurn = 0;
      await yieldToEventLoop();
      stop.throwIfAborted();
    }
  }
  return count;
}

/** PostgreSQL: rows inserted several hundred at a time (each statement is a round trip). */
async function loadTable(
  trx: Transaction<Database>,
  table: TableInfo,
  batches: AsyncIterable<unknown[][]>,
  options: LoadOptions,
  stop: AbortSignal,
): Promise<number> {
  const perInsert = Math.max(1, Math.min(rowsPerInsert, Math.floor(30_000 / table.columns.length)));
  let batch: Record<string, unknown>[] = [];
  let batchBytes = 0;
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // biome-ignore lint/suspicious/noExplicitAny: the table and its columns come from the catalog, not from Kysely's types
    await (trx as Kysely<any>).insertInto(table.name).values(batch).execute();
    batch = [];
    batchBytes = 0;
    await yieldToEventLoop();
    stop.throwIfAborted();
  };
  for await (const values of flatten(batches)) {
    const record: Record<string, unknown> = {};
    table.columns.forEach((column, i) => {
      const value = values[i];
      record[column] = value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value;
      batchBytes += typeof value === 'string' ? value.length : value instanceof Uint8Array ? value.length : 8;
    });
    batch.push(record);
    count++;
    if (batch.length >= perInsert || batchBytes >= bytesPerInsert) await flush();
    if (count % 50_000 === 0) options.onProgress?.({ table: table.name, rows: count });
  }
  await flush();
  return count;
}

async function loadContents(
  trx: Transaction<Database>,
  source: LoadSource,
  options: LoadOptions,
  files: FileBlobStore | undefined,
  filesWritten: string[],
  /** A new SQLite database being built: small contents go straight in with plain inserts. */
  building: NonNullable<DatabaseHandle['sqlite']> | undefined,
  stop: AbortSignal,
): Promise<{ contents: number; contentsKept: number; contentBytes: number }> {
  // Larger contents: files beside SQLite, chunks inside PostgreSQL (written in this transaction).
  const large = files ?? new DatabaseBlobStore(trx, () => options.now);
  const inline = new DatabaseBlobStore(trx, () => options.now);
  let pending: { blob: InlineBlob; now: number }[] = [];
  let pendingBytes = 0;
  let contents = 0;
  let contentsKept = 0;
  let contentBytes = 0;
  const problem = (text: string) => {
    if (!options.onContentProblem) throw invalid('backup-content-damaged', text);
    options.onContentProblem(text);
  };
  const insertNew = building ? newInlineBlobWriter(building, options.now) : undefined;
  const fileWrites = new BoundedWork(contentFilesAtOnce, contentFileBytesAtOnce);
  const flush = async () => {
    if (pending.length === 0) return;
    await writeInlineBlobs(trx, pending);
    pending = [];
    pendingBytes = 0;
  };
  // The next contents are read while one is written (a fresh target: a catch-up first asks whether
  // the target has a content, and reads only those it lacks). They are written in the source's order.
  const ahead = options.replace || source.readContents ? undefined : new ReadAhead(source, contentsReadAhead);
  const entries: AsyncIterable<{ hash: string; read?: Promise<HeadRead>; checked?: boolean }> = options.replace
    ? source.contents()
    : // A new SQLite database takes each content's bytes before it asks for the next: they may be lent.
      (ahead ?? wholeContents(source.readContents!({ lent: insertNew !== undefined })));
  try {
    for await (const { hash, read: readAhead, checked } of entries) {
      stop.throwIfAborted();
      if (options.replace && ((await inline.has(hash)) || (await files?.has(hash)))) {
        contentsKept++;
        contents++;
        continue;
      }
      let read: HeadRead;
      try {
        read = readAhead ? await readAhead : await readHead(source.openContent(hash), inlineBlobLimit);
      } catch (error) {
        problem(contentError(source, hash, error));
        continue;
      }
      if (!read.rest && read.headBytes <= inlineBlobLimit) {
        const bytes = headBytes(read);
        // Bytes the source checked are not hashed again (a backup's packs are checked as they are read).
        const blob = checked ? { hash, size: bytes.length, data: bytes } : inlineBlob(bytes);
        if (blob.hash !== hash) {
          problem(`content ${hash} (${source.describeContent(hash)}) is damaged: its bytes hash to ${blob.hash}`);
          continue;
        }
        if (insertNew) insertNew(blob);
        else {
          pending.push({ blob, now: options.now });
          pendingBytes += blob.size;
          if (pending.length >= inlinePerBatch || pendingBytes >= bytesPerInsert) await flush();
        }
        contentBytes += blob.size;
      } else {
        const writeLarge = async (bytes: BlobSource) => {
          const existedBefore = files ? await files.has(hash) : true;
          let ref: { hash: string; size: number };
          try {
            ref = await (files ? files.putUnsynced(bytes, checked ? hash : undefined) : large.put(bytes));
          } catch (error) {
            return problem(contentError(source, hash, error));
          }
          if (files && !existedBefore) filesWritten.push(ref.hash);
          if (ref.hash !== hash)
            return problem(
              `content ${hash} (${source.describeContent(hash)}) is damaged: its bytes hash to ${ref.hash}`,
            );
          contentBytes += ref.size;
        };
        // A content file held whole is written while the next contents go in (its bytes copied:
        // lent ones are overwritten once the next is asked for); a streamed one, or a PostgreSQL
        // content (in this transaction), before the next.
        if (files && !read.rest) {
          const bytes = Buffer.from(headBytes(read));
          await fileWrites.add(writeLarge(bytes), bytes.length);
        } else await writeLarge(read.rest ? chain(read.head, read.rest) : headBytes(read));
      }
      contents++;
      if (contents % 1000 === 0) options.onProgress?.({ blobs: contents });
    }
    await fileWrites.all();
  } finally {
    await ahead?.discard();
    await fileWrites.settled();
  }
  await flush();
  // The content files are on disk before the rows that refer to them can be seen (the commit, or
  // the rename of a new database into place): all at once, so the disk serves many syncs together.
  await files?.syncWritten(filesWritten);
  options.onProgress?.({ blobs: contents });
  return { contents, contentsKept, contentBytes };
}

/**
 * Writes small contents into a new SQLite database as the store keeps them inline (inline-blob.ts),
 * with plain inserts: the database is empty and each content comes once, so there is nothing to
 * find already there, and writing one statement at a time costs no round trip.
 */
function newInlineBlobWriter(connection: NonNullable<DatabaseHandle['sqlite']>, now: number) {
  const blob = connection.prepare('insert into blobs (hash, chunks_key, size, created_at) values (?, ?, ?, ?)');
  const chunk = connection.prepare('insert into blob_chunks (chunks_key, seq, data) values (?, 0, ?)');
  return ({ hash, size, data }: InlineBlob) => {
    const key = inlineChunksKey(hash);
    blob.run(hash, key, size, now);
    chunk.run(key, data);
  };
}

/** The bytes read of a content's head, as one buffer (not copied when they are one already). */
const headBytes = (read: HeadRead) =>
  read.head.length === 1 ? read.head[0]! : Buffer.concat(read.head, read.headBytes);

function contentError(source: LoadSource, hash: string, error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT' || code === 'blob-not-found')
    return `content ${hash} is missing (${source.describeContent(hash)})`;
  // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR): the compressed bytes were changed or cut.
  if (code?.startsWith('Z_') || code === 'backup-pack-damaged')
    return `content ${hash} (${source.describeContent(hash)}) is damaged: ${(error as Error).message}`;
  return `content ${hash} (${source.describeContent(hash)}) cannot be read: ${(error as Error).message}`;
}

/**
 * Runs both at once; when one fails the other is told to stop (it stops at its next check) and is
 * waited for, so nothing of either still runs when the caller rolls the load back.
 */
async function bothOrNeither<A, B>(
  a: (stop: AbortSignal) => Promise<A>,
  b: (stop: AbortSignal) => Promise<B>,
): Promise<[A, B]> {
  const stop = new AbortController();
  const run = <T>(work: (stop: AbortSignal) => Promise<T>) =>
    work(stop.signal).catch((error: unknown) => {
      stop.abort(error);
      throw error;
    });
  const [first, second] = await Promise.allSettled([run(a), run(b)]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  // The error that started it, not the other's "stopped" that followed.
  throw stop.signal.reason;
}

/** Contents read ahead of the one being written. */
const contentsReadAhead = 8;
/** Content files written at once during a load (each several file-system calls in the thread pool). */
const contentFilesAtOnce = 8;
/** Bytes of content files being written at once, about (a larger content is written alone). */
const contentFileBytesAtOnce = 64 * 1024 * 1024;

/**
 * The source's contents in order, each with its head being read (`readHead`), up to `depth` ahead of
 * the one the caller is at. A failed read is its entry's rejected promise, met when the caller gets there.
 */
class ReadAhead implements AsyncIterable<{ hash: string; read: Promise<HeadRead> }> {
  private readonly queue: { hash: string; read: Promise<HeadRead> }[] = [];
  private readonly contents: AsyncIterator<{ hash: string }>;
  private done = false;

  constructor(
    private readonly source: LoadSource,
    private readonly depth: number,
  ) {
    this.contents = source.contents()[Symbol.asyncIterator]();
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (!this.done && this.queue.length < this.depth) {
        const next = await this.contents.next();
        if (next.done) {
          this.done = true;
          break;
        }
        const { hash } = next.value;
        const read = Promise.resolve().then(() => readHead(this.source.openContent(hash), inlineBlobLimit));
        read.catch(() => {}); // met by the caller in its turn
        this.queue.push({ hash, read });
      }
      const entry = this.queue.shift();
      if (!entry) return;
      yield entry;
    }
  }

  /** Closes what was read ahead and not taken, and the source's list. */
  async discard() {
    const left = this.queue.splice(0);
    for (const { read } of left)
      await read
        .then(
          (r) => r.rest?.return?.(),
          () => {},
        )
        .catch(() => {});
    if (!this.done) {
      this.done = true;
      await this.contents.return?.();
    }
  }
}

/** Contents read whole by the source, as reads of their head with nothing left. */
async function* wholeContents(
  contents: AsyncIterable<PooledContent>,
): AsyncIterable<{ hash: string; read: Promise<HeadRead>; checked: boolean }> {
  for await (const { hash, data, checked } of contents)
    yield { hash, checked, read: data.then((bytes) => ({ head: [bytes], headBytes: bytes.length })) };
}

/** A catch-up: the rows of every loaded table go, to be loaded again (in reverse order of loading). */
async function emptyTables(trx: Transaction<Database>, dialect: 'sqlite' | 'postgres', tables: TableInfo[]) {
  if (dialect === 'postgres') {
    await sql
      .raw(`truncate ${tables.map((t) => quoteIdentifier(t.name)).join(', ')} restart identity cascade`)
      .execute(trx);
    return;
  }
  for (const table of [...tables].reverse()) await sql.raw(`delete from ${quoteIdentifier(table.name)}`).execute(trx);
}

/** A catch-up: contents of the earlier copy that nothing refers to any more. */
async function dropUnreferencedContents(trx: Transaction<Database>) {
  await sql`delete from blobs where hash not in (select blob_hash from messages union select blob_hash from queue_messages union select hash from blob_metadata)`.execute(
    trx,
  );
  await sql`delete from blob_chunks where chunks_key not in (select chunks_key from blobs)`.execute(trx);
}
