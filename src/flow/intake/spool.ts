// Receiving a message's bytes: small ones stay in memory and are written inline with the queue
// entry (one shared commit); large ones are streamed to the blob store as they arrive, so memory
// stays bounded whatever the size. A message over its size limit is refused as soon as it passes the
// limit: the rest is not stored, only read and dropped by the caller.
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

/** Thrown by spoolMessage when the message passes its size limit (nothing of it is kept). */
export class MessageTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`message is larger than ${maxBytes} bytes`);
  }
}

export async function spoolMessage(
  source: AsyncIterable<Uint8Array>,
  blobs: BlobStore,
  maxBytes = Infinity,
  limit = inlineBlobLimit,
): Promise<SpooledMessage> {
  const iterator = sizeCapped(source, maxBytes)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      const inline = inlineBlob(Buffer.concat(head, size));
      return {
        blob: { hash: inline.hash, size: inline.size },
        inline,
        open: () => Readable.from([inline.data], { objectMode: false }),
      };
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

/** Passes the source on up to maxBytes; past that, reads the rest to its end (the SMTP reply comes after the message) and throws. */
async function* sizeCapped(source: AsyncIterable<Uint8Array>, maxBytes: number): AsyncIterable<Uint8Array> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size <= maxBytes) yield chunk;
  }
  if (size > maxBytes) throw new MessageTooLarge(maxBytes);
}
