// The snapshot of a PostgreSQL store: one connection of its own in a REPEATABLE READ, READ ONLY
// transaction (every statement sees the database as of its first), each table read through a cursor
// a batch at a time. A read-only repeatable-read transaction takes no locks that writers wait for.
import pg from 'pg';
import { quoteIdentifier } from './sql-names.ts';
import { inlineChunksKey } from '../store/blobs/inline-blob.ts';
import { contentReferencesSql, inlineContentSql, snapshotBatch, type StoreSnapshot } from './snapshot-shape.ts';
import type { TableInfo } from './table-catalog.ts';

export async function openPostgresSnapshot(url: string, tables: TableInfo[]): Promise<StoreSnapshot> {
  // int8 as a number, as the store reads it (store/database.ts; our integers stay inside 2^53).
  pg.types.setTypeParser(20, (value) => Number(value));
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a broken connection fails the statement that meets it
  await client.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const { rows } = await client.query<{ version: number | null }>(
      'select max(version) as version from holdfast_schema',
    );
    let cursors = 0;
    async function* read(query: string, params: unknown[] = []): AsyncIterable<unknown[][]> {
      const cursor = `holdfast_backup_${++cursors}`;
      await client.query(`declare ${cursor} no scroll cursor for ${numbered(query)}`, params);
      try {
        for (;;) {
          const batch = await client.query({ text: `fetch ${snapshotBatch} from ${cursor}`, rowMode: 'array' });
          if (batch.rows.length > 0) yield batch.rows as unknown[][];
          if (batch.rows.length < snapshotBatch) return;
        }
      } finally {
        await client.query(`close ${cursor}`).catch(() => {});
      }
    }
    return {
      dialect: 'postgres',
      schemaVersion: Number(rows[0]?.version ?? 0),
      tables,
      rows: (table) =>
        read(`select ${table.columns.map(quoteIdentifier).join(', ')} from ${quoteIdentifier(table.name)}`),
      query: (text, params) => read(text, params),
      async *contents() {
        for await (const batch of read(contentReferencesSql))
          yield batch.map((row) => ({ hash: String(row[0]), required: Number(row[1]) === 1 }));
      },
      async inlineContent(hash) {
        const { rows } = await client.query<{ data: Buffer }>(numbered(inlineContentSql), [inlineChunksKey(hash)]);
        return rows[0]?.data;
      },
      close: async () => {
        await client.query('commit').catch(() => {});
        await client.end();
      },
    };
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

/** A query with `?` marks in PostgreSQL's numbered form ($1, $2, …). */
function numbered(query: string): string {
  let n = 0;
  return query.replace(/\?/g, () => `$${++n}`);
}
