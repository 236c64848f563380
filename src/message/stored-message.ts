// A stored message is the header lines Holdfast added on receipt (its "prefix": Received,
// Authentication-Results...) followed by the bytes the sender sent, kept once in the blob store.
// Keeping the prefix apart lets every recipient of a message share one blob.
import { Readable } from 'node:stream';
import type { BlobStore } from '../store/blobs/blob-store.ts';

export interface StoredMessageRef {
  prefix: string;
  blobHash: string;
}

export function openStoredMessage(blobs: BlobStore, ref: StoredMessageRef): Readable {
  return Readable.from(
    (async function* () {
      if (ref.prefix) yield Buffer.from(ref.prefix, 'utf8');
      yield* blobs.open(ref.blobHash);
    })(),
    { objectMode: false },
  );
}

/** The header section (up to the blank line, at most `limit` bytes) of a stored message. */
export async function readHeaderSection(blobs: BlobStore, ref: StoredMessageRef, limit = 128 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  const stream = openStoredMessage(blobs, ref);
  for await (const chunk of stream) {
    parts.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    const text = Buffer.concat(parts).toString('utf8');
    const end = text.search(/\r?\n\r?\n/);
    if (end >= 0 || length >= limit) {
      stream.destroy();
      return end >= 0 ? text.slice(0, end) : text.slice(0, limit);
    }
  }
  return Buffer.concat(parts).toString('utf8');
}
