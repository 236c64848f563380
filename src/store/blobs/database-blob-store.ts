// Blobs inside the database, in chunks of 256 KiB: the PostgreSQL deployment, where every node must
// reach the same content without a shared filesystem. Chunks are written as they arrive under a
// fresh key; only when the hash is known is the content published in `blobs` (or the chunks dropped
// if the same content already exists).
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { notFound } from '../../errors.ts';
import { PreparedQuery } from '../prepared-query.ts';
import type { Database } from '../schema.ts';
import { chunksOf, sliceChunks, type BlobRef, type BlobSource, type BlobStore, type ByteRange } from './blob-store.ts';

const chunkSize = 256 * 1024;

/** Reading content is on every FETCH of a body: built once (prepared-query.ts). */
const preparedReads = {
  chunksKeyOf: new PreparedQuery<{ hash: string }, { chunks_key: string }>((db, arg) =>
    db.selectFrom('blobs').select('chunks_key').where('hash', '=', arg('hash')),
  ),
  chunk: new PreparedQuery<{ chunksKey: string; seq: number }, { data: Buffer | Uint8Array }>((db, arg) =>
    db
      .selectFrom('blob_chunks')
      .select('data')
      .where('chunks_key', '=', arg('chunksKey'))
      .where('seq', '=', arg('seq')),
  ),
};

export class DatabaseBlobStore implements BlobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async put(source: BlobSource): Promise<BlobRef> {
    const chunksKey = randomUUID();
    const hasher = createHash('sha256');
    let size = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.db.insertInto('blob_chunks').values({ chunks_key: chunksKey, seq: seq++, data }).execute();
    };
    try {
      for await (const chunk of chunksOf(source)) {
        hasher.update(chunk);
        size += chunk.length;
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.length;
        if (pendingBytes >= chunkSize) await flush();
      }
      await flush();
      const hash = hasher.digest('hex');
      // Existing content keeps its chunks and is marked as stored again (`created_at`, under the row's
      // lock), so the collector, which deletes only content stored before its cutoff, cannot take it
      // from a message that is about to refer to it; the chunks just written are then dropped.
      const published = await this.db
        .insertInto('blobs')
        .values({ hash, chunks_key: chunksKey, size, created_at: this.now() })
        .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: this.now() }))
        .returning('chunks_key')
        .executeTakeFirstOrThrow();
      if (published.chunks_key !== chunksKey) await this.deleteChunks(chunksKey);
      return { hash, size };
    } catch (error) {
      await this.deleteChunks(chunksKey).catch(() => {});
      throw error;
    }
  }

  open(hash: string, range?: ByteRange): Readable {
    const { chunksKeyOf, chunk } = preparedReads;
    const db = this.db;
    const chunks = async function* () {
      const blob = await chunksKeyOf.first(db, { hash });
      if (!blob) throw notFound('blob-not-found', `blob ${hash} does not exist`);
      // One chunk at a time: memory stays at one chunk whatever the blob's size.
      for (let seq = 0; ; seq++) {
        const row = await chunk.first(db, { chunksKey: blob.chunks_key, seq });
        if (!row) return;
        yield Buffer.from(row.data);
        if (blob.chunks_key.startsWith('inline:')) return; // inline content is one chunk (inline-blob.ts)
      }
    };
    return Readable.from(sliceChunks(chunks(), range), { objectMode: false });
  }

  async has(hash: string): Promise<boolean> {
    return Boolean(await this.db.selectFrom('blobs').select('hash').where('hash', '=', hash).executeTakeFirst());
  }

  /** `created_at` is when the content was last stored; put() and writeInlineBlob() update it under the row's lock. */
  async deleteIfStoredBefore(hash: string, storedBefore: number): Promise<void> {
    const blob = await this.db
      .deleteFrom('blobs')
      .where('hash', '=', hash)
      .where('created_at', '<', storedBefore)
      .returning('chunks_key')
      .executeTakeFirst();
    if (blob) await this.deleteChunks(blob.chunks_key);
  }

  private async deleteChunks(chunksKey: string) {
    await this.db.deleteFrom('blob_chunks').where('chunks_key', '=', chunksKey).execute();
  }
}
