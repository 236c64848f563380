// One consistent view of a live store, read while it serves: every table and the list of contents
// it refers to as of one moment. SQLite: a read transaction on a connection of its own; PostgreSQL:
// a repeatable-read, read-only transaction read through cursors. Rows come out as arrays in the
// order of the table's columns, in batches (a promise per batch, not per row: at 100,000 messages a
// backup reads several hundred thousand rows), so no table is held in memory.
import type { TableInfo } from './table-catalog.ts';

export interface ContentReference {
  hash: string;
  /** A message or queue entry uses it (else only metadata names it: content about to be collected). */
  required: boolean;
}

export interface StoreSnapshot {
  dialect: 'sqlite' | 'postgres';
  schemaVersion: number;
  tables: TableInfo[];
  rows(table: TableInfo): AsyncIterable<unknown[][]>;
  /** Rows of a query of our own in the snapshot, as arrays, in batches; `?` marks each parameter. */
  query(text: string, params: unknown[]): AsyncIterable<unknown[][]>;
  /** Each content the snapshot refers to, once, in hash order, in batches. */
  contents(): AsyncIterable<ContentReference[]>;
  /**
   * A content the store keeps inline (store/blobs/inline-blob.ts: most mail), read in the snapshot
   * with one query; undefined for one kept elsewhere (read through the store's blob store instead).
   */
  inlineContent(hash: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

/**
 * Where rows refer to contents. Messages, queue entries and quarantined messages need theirs;
 * `blob_metadata` also names contents whose last message is gone (the collector deletes both),
 * copied when still there.
 */
export const contentReferencesSql = `select hash, max(required) as required from (
    select blob_hash as hash, 1 as required from messages
    union all select blob_hash as hash, 1 as required from queue_messages
    union all select blob_hash as hash, 1 as required from quarantine
    union all select hash, 0 as required from blob_metadata
  ) refs group by hash order by hash`;

/** The query of an inline content's bytes (its one chunk); `?` is its chunks key (inlineChunksKey). */
export const inlineContentSql = 'select data from blob_chunks where chunks_key = ? and seq = 0';

/** The items of batches, one by one (for a consumer that takes them singly). */
export async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncIterable<T> {
  for await (const batch of batches) yield* batch;
}

/** Rows per batch read from the database. */
export const snapshotBatch = 1000;

/** Gives the event loop a turn: a snapshot read in the server's process must not hold it for long. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
