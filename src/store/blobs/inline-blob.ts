// Small content (a typical message) is written inside the database, in the same transaction as the
// rows that refer to it, so accepting a message costs no fsync of its own: it shares the group
// commit. Larger content is streamed to the blob store first.
import { createHash } from 'node:crypto';
import type { Kysely, QueryCreator, Transaction } from 'kysely';
import { isPostgres, PreparedQuery, type Arg } from '../prepared-query.ts';
import type { Database } from '../schema.ts';
import type { BlobRef } from './blob-store.ts';

/** Content up to this size is kept inline in the database. */
export const inlineBlobLimit = 256 * 1024;

export interface InlineBlob extends BlobRef {
  data: Buffer;
}

export function inlineBlob(data: Buffer): InlineBlob {
  return { hash: createHash('sha256').update(data).digest('hex'), size: data.length, data };
}

/**
 * Writes the content unless the same content is already stored (content addressing); existing content
 * is marked as stored again (`created_at`, under the row's lock: see DatabaseBlobStore.deleteIfStoredBefore).
 * On PostgreSQL in one statement (each is a round trip), on SQLite in two.
 */
export async function writeInlineBlob(trx: Transaction<Database>, blob: InlineBlob, now: number) {
  const values = { hash: blob.hash, chunksKey: `inline:${blob.hash}`, size: blob.size, now, data: blob.data };
  if (isPostgres(trx)) return void (await upsertBlobWithChunk.run(trx, values));
  await upsertBlob.run(trx, values);
  await insertChunk.run(trx, values);
}

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
