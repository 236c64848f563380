// Reading a content that may be small (most mail: taken whole, in memory) or large (streamed on):
// the first bytes are read up to a limit, and the rest, if any, is left in the stream.
import type { Readable } from 'node:stream';

export interface HeadRead {
  head: Buffer[];
  headBytes: number;
  /** Set when the content is longer than the limit: the stream, continuing after the head. */
  rest?: AsyncIterator<unknown>;
}

/** Reads up to `limit` bytes; `rest` is set when there is more (the stream continues from there). */
export async function readHead(stream: Readable, limit: number): Promise<HeadRead> {
  const iterator = stream[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { head, headBytes };
    const chunk = next.value as Buffer;
    head.push(chunk);
    headBytes += chunk.length;
    if (headBytes > limit) return { head, headBytes, rest: iterator };
  }
}

/** The head and then the rest of the stream, as one. */
export async function* chain(head: Buffer[], rest: AsyncIterator<unknown>): AsyncIterable<Uint8Array> {
  yield* head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value as Buffer;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
