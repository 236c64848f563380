// Reads, decompresses and checks the contents of pack files in a worker thread, for a restore and
// a verify: the main thread is left only the writing of what arrives. Decompressing and hashing a
// backup's contents (1.1 GB at 100,000 messages) cost as much CPU as writing them into the store;
// done here they run on the other core at the same time.
//
// The worker reads each pack's blocks in order in spans of up to 8 MB, decompresses each block once, checks every wanted content's SHA-256, and hands the block over
// (its memory transferred, not copied) with where each content is in it. What it hands over and
// the main thread has not taken is bounded in bytes: the worker waits for the main thread.
import { Worker } from 'node:worker_threads';
import { blockChunkBytes, type PackEntry } from './content-packs.ts';

/** One block to read and the contents wanted from it: [hash, start in the block, size]. */
interface PlannedBlock {
  offset: number;
  length: number;
  contents: [string, number, number][];
}

/** A content read: its bytes (checked against its hash), or why it could not be. */
export type DecodedContent = { hash: string; data: Buffer } | { hash: string; error: Error };

/** Decompressed bytes handed over and not yet taken, at most (a larger block still goes alone). */
const bytesInFlight = 32 * 1024 * 1024;
/** Spans read at once from a pack. */
const spanBytes = 8 * 1024 * 1024;

/**
 * Plain JavaScript run with `eval` (as store/wal-checkpointer.ts), so the same code runs from the
 * TypeScript sources and from the build. Messages to the main thread: { block, contents: [[hash,
 * start, size, problem?]], with the block's memory } or { failed: [hash…], reason, code } or { done: true }. From it: a number,
 * the bytes it has taken.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { join } = require('node:path');
const { gunzipSync } = require('node:zlib');
const { createHash } = require('node:crypto');
const { packsDir, packs, bytesInFlight, spanBytes, chunkSize } = workerData;
let outstanding = 0;
let wake;
parentPort.on('message', (taken) => {
  outstanding -= taken;
  if (wake && outstanding < bytesInFlight) { const w = wake; wake = undefined; w(); }
});
const room = () => outstanding < bytesInFlight ? undefined : new Promise((resolve) => { wake = resolve; });
function readExactly(fd, position, length) {
  const buffer = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done);
    if (read === 0) {
      const error = new Error('a pack ends before byte ' + (position + length) + ': it is shorter than its index says');
      error.code = 'backup-pack-damaged';
      throw error;
    }
    done += read;
  }
  return buffer;
}
function transferable(buffer) {
  // Small buffers share Node's pool, which cannot be transferred: those are copied into their own.
  if (buffer.buffer.byteLength > Buffer.poolSize) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}
async function main() {
  for (const pack of packs) {
    let fd;
    let next = 0;
    try {
      fd = openSync(join(packsDir, pack.name), 'r');
      const blocks = pack.blocks;
      while (next < blocks.length) {
        const first = blocks[next].offset;
        let end = first + blocks[next].length;
        let last = next + 1;
        while (last < blocks.length && blocks[last].offset + blocks[last].length - first <= spanBytes) {
          end = Math.max(end, blocks[last].offset + blocks[last].length);
          last++;
        }
        const span = readExactly(fd, first, end - first);
        for (; next < last; next++) {
          const { offset, length, contents } = blocks[next];
          let block;
          try {
            block = transferable(gunzipSync(span.subarray(offset - first, offset - first + length), { chunkSize }));
          } catch (error) {
            parentPort.postMessage({ failed: contents.map((c) => c[0]), reason: error.message, code: error.code });
            continue;
          }
          const out = contents.map(([hash, start, size]) => {
            if (start + size > block.length)
              return [hash, 0, 0, 'its block in pack ' + pack.name + ' at byte ' + offset + ' holds ' + block.length + ' bytes, too few for it'];
            const actual = createHash('sha256').update(block.subarray(start, start + size)).digest('hex');
            return actual === hash ? [hash, start, size] : [hash, 0, 0, 'its bytes hash to ' + actual];
          });
          await room();
          outstanding += block.length;
          parentPort.postMessage({ memory: block.buffer, at: block.byteOffset, length: block.length, contents: out }, [block.buffer]);
        }
      }
    } catch (error) {
      // The pack is gone or short: each content still to come from it fails with the reason.
      const failed = pack.blocks.slice(next).flatMap((b) => b.contents.map((c) => c[0]));
      parentPort.postMessage({ failed, reason: error.message, code: error.code });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  parentPort.postMessage({ done: true });
}
main().catch((error) => parentPort.postMessage({ fatal: String(error && error.stack || error) }));
`;

type WorkerMessage =
  | { memory: ArrayBuffer; at: number; length: number; contents: [string, number, number, string?][] }
  | { failed: string[]; reason: string; code?: string }
  | { done: true }
  | { fatal: string };

/** The plan for the worker: packs in name order, their blocks by offset, each with its wanted contents. */
function plan(entries: Iterable<PackEntry>): { name: string; blocks: PlannedBlock[] }[] {
  const byPack = new Map<string, Map<number, PlannedBlock>>();
  for (const entry of entries) {
    let blocks = byPack.get(entry.pack);
    if (!blocks) byPack.set(entry.pack, (blocks = new Map()));
    let block = blocks.get(entry.offset);
    if (!block) blocks.set(entry.offset, (block = { offset: entry.offset, length: entry.length, contents: [] }));
    block.contents.push([entry.hash, entry.start, entry.size]);
  }
  return [...byPack]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, blocks]) => ({ name, blocks: [...blocks.values()].sort((a, b) => a.offset - b.offset) }));
}

const damaged = (message: string, code = 'backup-pack-damaged') =>
  Object.assign(new Error(message), { code }) as Error & { code: string };

/**
 * The contents of these pack entries, in pack order, each checked against its hash; a content that
 * cannot be read comes with its error (the caller decides whether that ends the work). Stopping the
 * iteration early stops the worker.
 */
export async function* decodePackContents(
  packsDir: string,
  entries: Iterable<PackEntry>,
): AsyncIterable<DecodedContent> {
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { packsDir, packs: plan(entries), bytesInFlight, spanBytes, chunkSize: blockChunkBytes },
  });
  const inbox: WorkerMessage[] = [];
  let notify: (() => void) | undefined;
  let exitError: Error | undefined;
  let exited = false;
  const wakeUp = () => {
    const n = notify;
    notify = undefined;
    n?.();
  };
  worker.on('message', (message: WorkerMessage) => {
    inbox.push(message);
    wakeUp();
  });
  worker.on('error', (error) => {
    exitError = error;
    wakeUp();
  });
  worker.on('exit', () => {
    exited = true;
    wakeUp();
  });
  try {
    for (;;) {
      const message = inbox.shift();
      if (!message) {
        if (exitError) throw exitError;
        if (exited) throw new Error('the pack reading worker stopped before it was done');
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
        continue;
      }
      if ('done' in message) return;
      if ('fatal' in message) throw new Error(`the pack reading worker failed: ${message.fatal}`);
      if ('failed' in message) {
        for (const hash of message.failed) yield { hash, error: damaged(message.reason, message.code) };
        continue;
      }
      const block = Buffer.from(message.memory, message.at, message.length);
      for (const [hash, start, size, problem] of message.contents)
        yield problem ? { hash, error: damaged(problem) } : { hash, data: block.subarray(start, start + size) };
      worker.postMessage(block.length);
    }
  } finally {
    await worker.terminate();
  }
}
