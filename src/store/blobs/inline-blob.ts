// Small content (a typical message) is written inside the database, in the same transaction as the
// rows that refer to it, so accepting a message costs no fsync of its own: it shares the group
// commit. Larger content is streamed to the blob store first.
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Database } from '../schema.ts';
import type { BlobRef } from './blob-store.ts';
import { publishBlob } from './database-blob-store.ts';

/** Content up to this size is kept inline in the database. */
export const inlineBlobLimit = 256 * 1024;

export interface InlineBlob extends BlobRef {
  data: Buffer;
}

export function inlineBlob(data: Buffer): InlineBlob {
  return { hash: createHash('sha256').update(data).digest('hex'), size: data.length, data };
}

/** Writes the content unless the same content is already stored (content addressing). */
export async function writeInlineBlob(trx: Transaction<Database>, blob: InlineBlob, now: number) {
  const published = await publishBlob(trx, { hash: blob.hash, chunks_key: `inline:${blob.hash}`, size: blob.size }, now);
  if (published) await trx.insertInto('blob_chunks').values({ chunks_key: `inline:${blob.hash}`, seq: 0, data: blob.data }).execute();
}
