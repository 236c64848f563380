// Message content lives in a blob store: content-addressed by SHA-256, so the same bytes are kept
// once however many mailboxes hold them, and streamed in and out so a large message is never held
// in memory whole.
import type { Readable } from 'node:stream';

export interface BlobRef {
  /** Lower-case hex SHA-256 of the content. */
  hash: string;
  size: number;
}

export type BlobSource = AsyncIterable<Uint8Array> | Uint8Array;

export interface ByteRange {
  start: number;
  end: number;
}

/** The bytes of `chunks` within [start, end), for stores that cannot seek. Stops reading at `end`. */
export async function* sliceChunks(
  chunks: AsyncIterable<Uint8Array>,
  range: ByteRange | undefined,
): AsyncIterable<Buffer> {
  let offset = 0;
  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (!range) {
      yield chunk;
      continue;
    }
    const from = Math.max(range.start - offset, 0);
    const to = Math.min(range.end - offset, chunk.length);
    if (to > from) yield chunk.subarray(from, to);
    offset += chunk.length;
    if (offset >= range.end) return;
  }
}

export interface BlobStore {
  /**
   * Stores the content durably (on disk, synced) before resolving. Storing existing content only marks
   * it as stored again (see deleteIfStoredBefore).
   */
  put(source: BlobSource): Promise<BlobRef>;
  /**
   * Streams the content, or with `range` only bytes [start, end) of it (a file store seeks there); the
   * stream errors with code 'blob-not-found' when it does not exist.
   */
  open(hash: string, range?: ByteRange): Readable;
  has(hash: string): Promise<boolean>;
  /**
   * Deletes the content unless it was last stored at or after `storedBefore` (epoch ms), atomically
   * with respect to put(): content that a put() is handing out again to a new message is never taken
   * from under it. For garbage collection, after the caller found no reference left.
   */
  deleteIfStoredBefore(hash: string, storedBefore: number): Promise<void>;
}

export async function* chunksOf(source: BlobSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) yield source;
  else yield* source;
}

export async function readBlob(store: BlobStore, hash: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of store.open(hash)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Bytes [start, end) of a blob, streamed: only one chunk at a time is held, whatever the blob's size. */
export async function* readBlobRange(
  store: BlobStore,
  hash: string,
  start: number,
  end: number,
): AsyncIterable<Buffer> {
  if (end <= start) return;
  for await (const chunk of store.open(hash, { start, end })) yield chunk as Buffer;
}

/** Bytes [start, end) of a blob in memory (for small ranges: a header). */
export async function readBlobBytes(store: BlobStore, hash: string, start: number, end: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readBlobRange(store, hash, start, end)) parts.push(chunk);
  return Buffer.concat(parts);
}

export const isBlobHash = (hash: string) => /^[0-9a-f]{64}$/.test(hash);
