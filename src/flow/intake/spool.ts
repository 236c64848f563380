// Receiving a message's bytes: small ones stay in memory and are written inline with the queue
// entry (one shared commit); large ones are streamed to the blob store as they arrive, so memory
// stays bounded whatever the size.
import { Readable } from 'node:stream';
import type { BlobRef, BlobStore } from '../../store/blobs/blob-store.ts';
import { inlineBlob, inlineBlobLimit, type InlineBlob } from '../../store/blobs/inline-blob.ts';

export interface SpooledMessage {
  blob: BlobRef;
  /** Set when the content is small enough to be committed with the queue entry. */
  inline?: InlineBlob;
  /** The content, from memory or from the blob store. */
  open(): Readable;
}

export async function spoolMessage(source: AsyncIterable<Uint8Array>, blobs: BlobStore, limit = inlineBlobLimit): Promise<SpooledMessage> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      const inline = inlineBlob(Buffer.concat(head, size));
      return { blob: { hash: inline.hash, size: inline.size }, inline, open: () => Readable.from([inline.data], { objectMode: false }) };
    }
    head.push(Buffer.from(next.value));
    size += next.value.length;
    if (size > limit) break;
  }
  const rest = { [Symbol.asyncIterator]: () => iterator };
  const blob = await blobs.put(
    (async function* () {
      yield* head;
      yield* rest;
    })(),
  );
  return { blob, open: () => blobs.open(blob.hash) };
}
