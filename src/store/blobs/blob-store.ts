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

export interface BlobStore {
  /** Stores the content durably (on disk, synced) before resolving. Storing existing content is a no-op. */
  put(source: BlobSource): Promise<BlobRef>;
  /** Streams the content; the stream errors with code 'blob-not-found' when it does not exist. */
  open(hash: string): Readable;
  has(hash: string): Promise<boolean>;
  delete(hash: string): Promise<void>;
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
export async function* readBlobRange(store: BlobStore, hash: string, start: number, end: number): AsyncIterable<Buffer> {
  if (end <= start) return;
  const stream = store.open(hash);
  let offset = 0;
  try {
    for await (const raw of stream) {
      const chunk = raw as Buffer;
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, chunk.length);
      if (to > from) yield chunk.subarray(from, to);
      offset += chunk.length;
      if (offset >= end) break;
    }
  } finally {
    stream.destroy();
  }
}

/** Bytes [start, end) of a blob in memory (for small ranges: a header). */
export async function readBlobBytes(store: BlobStore, hash: string, start: number, end: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readBlobRange(store, hash, start, end)) parts.push(chunk);
  return Buffer.concat(parts);
}

export const isBlobHash = (hash: string) => /^[0-9a-f]{64}$/.test(hash);
