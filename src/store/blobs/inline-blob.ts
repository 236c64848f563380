// Small content (a typical message) is written inside the database, in the same transaction as the
// rows that refer to it, so accepting a message costs no fsync of its own: it shares the group
// commit. Larger content is streamed to the blob store first.
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
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
  await trx
    .insertInto('blobs')
    .values({ hash: blob.hash, chunks_key: chunksKey, size: blob.size, created_at: now })
    .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: now }))
    .execute();
  await trx
    .insertInto('blob_chunks')
    .values({ chunks_key: chunksKey, seq: 0, data: blob.data })
    .onConflict((oc) => oc.columns(['chunks_key', 'seq']).doNothing())
    .execute();
}
