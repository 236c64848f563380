// Taking in one message's bytes from a source (an IMAP download, an mbox range, a Maildir file)
// without holding a large one in memory: up to the inline limit it stays in memory and goes into
// the database with its row (as IMAP APPEND does); beyond, it streams to the blob store as it
// arrives. Either way the header section is kept for the import key.
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { inlineBlob, inlineBlobLimit, type InlineBlob } from '../store/blobs/inline-blob.ts';
import { headerSection } from './import-key.ts';

export interface ReceivedContent {
  hash: string;
  size: number;
  /** Small content, still to be written in the append's transaction. */
  inline?: InlineBlob;
  /** The header section (at most the inline limit of it). */
  header: Buffer;
}

const writeSize = 256 * 1024;

export async function receiveContent(blobs: BlobStore, chunks: AsyncIterable<Uint8Array>): Promise<ReceivedContent> {
  const iterator = chunks[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let held = 0;
  while (held <= inlineBlobLimit) {
    const next = await iterator.next();
    if (next.done) {
      const data = Buffer.concat(head);
      const inline = inlineBlob(data);
      return { hash: inline.hash, size: inline.size, inline, header: headerSection(data) };
    }
    const chunk = Buffer.from(next.value);
    head.push(chunk);
    held += chunk.length;
  }
  const start = Buffer.concat(head);
  // Sources hand over a line at a time: the store gets them gathered into writes of 256 KiB.
  async function* rest(): AsyncIterable<Uint8Array> {
    yield start;
    let gathered: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      gathered.push(next.value);
      size += next.value.length;
      if (size < writeSize) continue;
      yield Buffer.concat(gathered);
      gathered = [];
      size = 0;
    }
    if (size) yield Buffer.concat(gathered);
  }
  const stored = await blobs.put(rest());
  return { hash: stored.hash, size: stored.size, header: headerSection(start.subarray(0, inlineBlobLimit)) };
}
