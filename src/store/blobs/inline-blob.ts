// Small content (a typical message) is written inside the database, in the same transaction as the
// rows that refer to it, so accepting a message costs no fsync of its own: it shares the group
// commit. Larger content is streamed to the blob store first.
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import { PreparedQuery } from '../prepared-query.ts';
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
 */
export async function writeInlineBlob(trx: Transaction<Database>, blob: InlineBlob, now: number) {
  const chunksKey = `inline:${blob.hash}`;
  await upsertBlob.run(trx, { hash: blob.hash, chunksKey, size: blob.size, now });
  await insertChunk.run(trx, { chunksKey, data: blob.data });
}

const upsertBlob = new PreparedQuery<{ hash: string; chunksKey: string; size: number; now: number }, never>((db, arg) =>
  db
    .insertInto('blobs')
    .values({ hash: arg('hash'), chunks_key: arg('chunksKey'), size: arg('size'), created_at: arg('now') })
    .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: arg('now') })),
);
const insertChunk = new PreparedQuery<{ chunksKey: string; data: Buffer }, never>((db, arg) =>
  db
    .insertInto('blob_chunks')
    .values({ chunks_key: arg('chunksKey'), seq: 0, data: arg('data') })
    .onConflict((oc) => oc.columns(['chunks_key', 'seq']).doNothing()),
);
