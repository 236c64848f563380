// Small content (a typical message) is written inside the database, in the same transaction as the
// rows that refer to it, so accepting a message costs no fsync of its own: it shares the group
// commit. Larger content is streamed to the blob store first.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type QueryCreator, type Transaction } from 'kysely';
import { isPostgres, PreparedQuery, rawSql, type Arg } from '../prepared-query.ts';
import type { Database } from '../schema.ts';
import type { BlobRef } from './blob-store.ts';

/** Content up to this size is kept inline in the database. */
export const inlineBlobLimit = 256 * 1024;

export interface InlineBlob extends BlobRef {
  data: Buffer;
}

/** The key of an inline content's one chunk in blob_chunks. */
export const inlineChunksKey = (hash: string) => `inline:${hash}`;

export function inlineBlob(data: Buffer): InlineBlob {
  return { hash: createHash('sha256').update(data).digest('hex'), size: data.length, data };
}

/**
 * Writes the content unless the same content is already stored (content addressing); existing content
 * is marked as stored again (`created_at`, under the row's lock: see DatabaseBlobStore.deleteIfStoredBefore).
 * On PostgreSQL in one statement (each is a round trip), on SQLite in two.
 */
export async function writeInlineBlob(trx: Transaction<Database>, blob: InlineBlob, now: number) {
  const values = { hash: blob.hash, chunksKey: inlineChunksKey(blob.hash), size: blob.size, now, data: blob.data };
  if (isPostgres(trx)) return void (await upsertBlobWithChunk.run(trx, values));
  await upsertBlob.run(trx, values);
  await insertChunk.run(trx, values);
}

/**
 * Writes several contents as writeInlineBlob does each: on PostgreSQL in one statement for all of
 * them, on SQLite (where a statement costs no round trip) one by one. The same content twice in
 * one batch is written once.
 */
export async function writeInlineBlobs(trx: Transaction<Database>, blobs: { blob: InlineBlob; now: number }[]) {
  // In hash order: two batches written at once lock the rows they share in one order (no deadlock).
  const unique = [...new Map(blobs.map((b) => [b.blob.hash, b])).values()].sort((a, b) =>
    a.blob.hash < b.blob.hash ? -1 : 1,
  );
  if (!isPostgres(trx) || unique.length < 2) {
    for (const { blob, now } of unique) await writeInlineBlob(trx, blob, now);
    return;
  }
  await upsertBlobsWithChunks.run(trx, {
    hashes: unique.map((b) => b.blob.hash),
    sizes: unique.map((b) => b.blob.size),
    times: unique.map((b) => b.now),
    datas: unique.map((b) => b.blob.data),
  });
}

const upsertBlobsWithChunks = new PreparedQuery<
  { hashes: string[]; sizes: number[]; times: number[]; datas: Buffer[] },
  never
>((db, arg) =>
  rawSql(
    db,
    sql`with blob as (
        insert into blobs (hash, chunks_key, size, created_at)
        select b.hash, 'inline:' || b.hash, b.size, b.at
        from unnest(${arg('hashes')}::text[], ${arg('sizes')}::bigint[], ${arg('times')}::bigint[]) as b(hash, size, at)
        on conflict (hash) do update set created_at = excluded.created_at)
      insert into blob_chunks (chunks_key, seq, data)
      select 'inline:' || c.hash, 0, c.data from unnest(${arg('hashes')}::text[], ${arg('datas')}::bytea[]) as c(hash, data)
      on conflict (chunks_key, seq) do nothing`,
  ),
);

type BlobValues = { hash: string; chunksKey: string; size: number; now: number; data: Buffer };

const upsertBlobQuery = (db: Kysely<Database>, arg: Arg<BlobValues>) =>
  db
    .insertInto('blobs')
    .values({ hash: arg('hash'), chunks_key: arg('chunksKey'), size: arg('size'), created_at: arg('now') })
    .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: arg('now') }));
const insertChunkQuery = (db: QueryCreator<Database>, arg: Arg<BlobValues>) =>
  db
    .insertInto('blob_chunks')
    .values({ chunks_key: arg('chunksKey'), seq: 0, data: arg('data') })
    .onConflict((oc) => oc.columns(['chunks_key', 'seq']).doNothing());

const upsertBlob = new PreparedQuery<BlobValues, never>(upsertBlobQuery);
const insertChunk = new PreparedQuery<BlobValues, never>(insertChunkQuery);
/** Both in one statement (PostgreSQL runs a data-modifying WITH whether or not the rest reads it). */
const upsertBlobWithChunk = new PreparedQuery<BlobValues, never>((db, arg) =>
  insertChunkQuery(
    db.with('blob', () => upsertBlobQuery(db, arg)),
    arg,
  ),
);
