// The snapshot of an SQLite store: a second connection to the same file holds one read transaction
// (WAL mode lets the server write meanwhile; its writes stay invisible here). Reads are synchronous
// in better-sqlite3, so rows are taken a batch at a time with a turn of the event loop between.
import SqliteDatabase from 'better-sqlite3';
import { quoteIdentifier } from './sql-names.ts';
import { inlineChunksKey } from '../store/blobs/inline-blob.ts';
import {
  contentReferencesSql,
  inlineContentSql,
  snapshotBatch,
  yieldToEventLoop,
  type StoreSnapshot,
} from './snapshot-shape.ts';
import type { TableInfo } from './table-catalog.ts';

export async function openSqliteSnapshot(path: string, tables: TableInfo[]): Promise<StoreSnapshot> {
  const connection = new SqliteDatabase(path, { readonly: true, fileMustExist: true });
  try {
    connection.pragma('busy_timeout = 5000');
    connection.exec('begin');
    // The first read starts the snapshot: everything after sees the database as of now.
    const row = connection.prepare('select max(version) as version from holdfast_schema').get() as {
      version: number | null;
    };
    const inline = connection.prepare(inlineContentSql).pluck();
    return {
      dialect: 'sqlite',
      schemaVersion: Number(row.version ?? 0),
      tables,
      rows: (table) =>
        batches<unknown[]>(
          connection
            .prepare(`select ${table.columns.map(quoteIdentifier).join(', ')} from ${quoteIdentifier(table.name)}`)
            .raw(true),
        ),
      query: (text, params) => batches<unknown[]>(connection.prepare(text).raw(true), params),
      async *contents() {
        for await (const batch of batches<[string, number]>(connection.prepare(contentReferencesSql).raw(true)))
          yield batch.map((row) => ({ hash: row[0], required: Number(row[1]) === 1 }));
      },
      inlineContent: async (hash) => inline.get(inlineChunksKey(hash)) as Buffer | undefined,
      close: async () => {
        if (connection.inTransaction) connection.exec('commit');
        connection.close();
      },
    };
  } catch (error) {
    connection.close();
    throw error;
  }
}

async function* batches<Row>(statement: SqliteDatabase.Statement, params: unknown[] = []): AsyncIterable<Row[]> {
  const rows = statement.iterate(...params) as IterableIterator<Row>;
  try {
    for (;;) {
      const batch: Row[] = [];
      while (batch.length < snapshotBatch) {
        const next = rows.next();
        if (next.done) break;
        batch.push(next.value);
      }
      if (batch.length > 0) yield batch;
      if (batch.length < snapshotBatch) return;
      await yieldToEventLoop();
    }
  } finally {
    rows.return?.();
  }
}
