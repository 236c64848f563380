// Reads, decompresses and checks the contents of pack files in worker threads, for a restore and
// a verify: the main thread is left only the writing of what arrives. Decompressing and hashing a
// backup's contents (1.1 GB at 100,000 messages) cost as much CPU as writing them into the store;
// done here they run on the other cores at the same time. One worker could not keep up with the
// main thread's writing (the main thread waited on it for about 60 % of a restore's contents), so
// the packs' spans are shared out among up to one worker per core.
//
// Each worker reads its spans (up to 8 MB of a pack's consecutive blocks) in order, decompresses
// each block once, checks every wanted content's SHA-256, and hands the block over (its memory
// transferred, not copied) with where each content is in it. What a worker hands over and the main
// thread has not taken is bounded in bytes: the worker waits for the main thread.
//
// A caller that is done with each content before it asks for the next (a restore writing it into
// the store) can have the blocks lent instead: each worker decompresses them into a ring of shared
// memory (a gzip block of format 2 is copied there) that it reuses once the main thread has taken
// them. A restore receives 1.1 GB of blocks at 100,000
// messages; transferred, each became new memory of the main thread's, and freeing it took a full
// garbage collection every few megabytes (over a tenth of the main thread's time).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { maxInflateRatio, zstdBindingPath } from './block-codec.ts';
import type { PackEntry } from './content-packs.ts';

/** One block to read, its uncompressed size, and the contents wanted from it: [hash, start in the block, size]. */
interface PlannedBlock {
  offset: number;
  length: number;
  size: number;
  contents: [string, number, number][];
}

/** A content read: its bytes (checked against its hash), or why it could not be. */
export type DecodedContent = { hash: string; data: Buffer } | { hash: string; error: Error };

/** Decompressed bytes handed over and not yet taken, at most, in all (a larger block still goes alone). */
const bytesInFlight = 32 * 1024 * 1024;
/** Workers at most: more than two or three saturate the disk and the main thread's writing. */
const maxWorkers = 4;
/** Spans read at once from a pack. */
const spanBytes = 8 * 1024 * 1024;

/** Shared memory per worker for lent blocks; a block larger than this is transferred. */
const defaultRingBytes = 16 * 1024 * 1024;

/**
 * Plain JavaScript run with `eval` (as store/wal-checkpointer.ts), so the same code runs from the
 * TypeScript sources and from the build. Messages to the main thread: { memory, at, length,
 * contents: [[hash, start, size, problem?]] } with the block's memory transferred, or { at, length,
 * contents } for a block lent in the ring, or { failed: [hash…], reason, code } or { done: true }.
 * From it: { bytes, lent }, blocks taken: the bytes of transferred ones, and how many lent ones.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { join } = require('node:path');
const { gunzipSync } = require('node:zlib');
const { createHash } = require('node:crypto');
const { constants: { MAX_LENGTH } } = require('node:buffer');
const { packsDir, packs, bytesInFlight, spanBytes, ring, zstdBindingPath, maxInflateRatio } = workerData;
const zstd = require(zstdBindingPath);
const decompressor = new zstd.DCtx();
const ringMemory = ring ? Buffer.from(ring) : undefined;
// Blocks lent in the ring and not yet taken, oldest first: [start, length]. The main thread takes
// them in the order they were sent.
const lent = [];
let ringHead = 0;
let outstanding = 0;
let wake;
parentPort.on('message', ({ bytes, lent: taken }) => {
  lent.splice(0, taken);
  outstanding -= bytes;
  if (wake) { const w = wake; wake = undefined; w(); }
});
const waitForTaken = () => new Promise((resolve) => { wake = resolve; });
async function room() {
  while (outstanding >= bytesInFlight) await waitForTaken();
}
// Where in the ring a block of this length can go now, or -1.
function placeInRing(length) {
  if (lent.length === 0) return 0;
  const oldest = lent[0][0];
  if (ringHead > oldest) {
    if (ringHead + length <= ringMemory.length) return ringHead;
    return length <= oldest ? 0 : -1;
  }
  return ringHead + length <= oldest ? ringHead : -1;
}
// A place of this many bytes in the ring, waiting until the main thread has taken enough.
async function ringPlace(size) {
  let at;
  while ((at = placeInRing(size)) < 0) await waitForTaken();
  lent.push([at, size]);
  ringHead = at + size;
  return at;
}
// A block's uncompressed bytes, into the buffer given (exactly that long) or a new one. As
// block-codec.ts: a zstd frame or (format 2) a gzip member, refused when it does not decompress to
// exactly the size its pack's index says, and before any memory is taken when it cannot hold that.
function decompress(compressed, size, into) {
  const isZstd = compressed.length >= 4 && compressed.readUInt32LE(0) === zstd.MAGICNUMBER;
  let out;
  let written;
  try {
    if (size > MAX_LENGTH) throw implausible(size, 'more than a block can');
    if (isZstd) {
      const stated = zstd.getFrameContentSize(compressed);
      if (stated !== null && stated !== size) throw implausible(size, 'but the block says ' + stated);
      out = into || Buffer.allocUnsafeSlow(size);
      written = decompressor.decompress(out, compressed);
    } else {
      if (size > compressed.length * maxInflateRatio + 1024)
        throw implausible(size, 'more than its ' + compressed.length + ' compressed bytes can hold');
      const inflated = gunzipSync(compressed, { chunkSize: Math.max(64, size), maxOutputLength: Math.max(1, size) });
      out = into || Buffer.allocUnsafeSlow(size);
      written = inflated.length;
      if (written === size) inflated.copy(out);
    }
  } catch (error) {
    if (error.code === 'backup-pack-damaged') throw error;
    throw damaged(error.code === 'ERR_BUFFER_TOO_LARGE' || /destination buffer is too small/i.test(error.message)
      ? 'its block decompresses to more bytes than its index says'
      : 'its block cannot be decompressed (' + error.message + ')');
  }
  if (written !== size) throw damaged('its block decompresses to ' + written + ' bytes, not the ' + size + ' its index says');
  return out;
}
function implausible(size, why) {
  return damaged('its index says its block holds ' + size + ' bytes, ' + why);
}
function damaged(message) {
  return Object.assign(new Error(message), { code: 'backup-pack-damaged' });
}
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
          const { offset, length, size, contents } = blocks[next];
          const compressed = span.subarray(offset - first, offset - first + length);
          const inRing = ringMemory !== undefined && size <= ringMemory.length;
          const at = inRing ? await ringPlace(size) : 0;
          let block;
          try {
            block = decompress(compressed, size, inRing ? ringMemory.subarray(at, at + size) : undefined);
          } catch (error) {
            if (inRing) {
              lent.pop();
              ringHead = at;
            }
            parentPort.postMessage({ failed: contents.map((c) => c[0]), reason: error.message, code: error.code });
            continue;
          }
          const out = contents.map(([hash, start, size]) => {
            const actual = createHash('sha256').update(block.subarray(start, start + size)).digest('hex');
            return actual === hash ? [hash, start, size] : [hash, 0, 0, 'its bytes hash to ' + actual];
          });
          if (inRing) {
            parentPort.postMessage({ at, length: size, contents: out });
            continue;
          }
          await room();
          outstanding += size;
          parentPort.postMessage({ memory: block.buffer, at: 0, length: size, contents: out }, [block.buffer]);
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
  | { memory?: ArrayBuffer; at: number; length: number; contents: [string, number, number, string?][] }
  | { failed: string[]; reason: string; code?: string }
  | { done: true }
  | { fatal: string };

/** A run of one pack's consecutive blocks, read at once; what one worker is given, several of. */
interface PlannedSpan {
  name: string;
  blocks: PlannedBlock[];
}

/**
 * The spans to read: packs in name order, their blocks by offset (each with its wanted contents),
 * cut into runs of at most `spanBytes` (a larger block is a span alone), as the worker reads them.
 */
function plan(entries: Iterable<PackEntry>): PlannedSpan[] {
  const byPack = new Map<string, Map<number, PlannedBlock>>();
  for (const entry of entries) {
    let blocks = byPack.get(entry.pack);
    if (!blocks) byPack.set(entry.pack, (blocks = new Map()));
    let block = blocks.get(entry.offset);
    if (!block)
      blocks.set(
        entry.offset,
        (block = { offset: entry.offset, length: entry.length, size: entry.blockSize, contents: [] }),
      );
    block.contents.push([entry.hash, entry.start, entry.size]);
  }
  const spans: PlannedSpan[] = [];
  for (const [name, blocks] of [...byPack].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let span: PlannedSpan | undefined;
    for (const block of [...blocks.values()].sort((a, b) => a.offset - b.offset)) {
      const first = span?.blocks[0];
      if (!span || !first || block.offset + block.length - first.offset > spanBytes)
        spans.push((span = { name, blocks: [] }));
      span.blocks.push(block);
    }
  }
  return spans;
}

/** Bytes of blocks taken before a worker is told, at most: a message per block cost the main thread a tenth of a second per 100,000 messages. */
const ackBytes = 1024 * 1024;

/**
 * Blocks taken from each worker and not yet told to it. A worker is told once a megabyte or so is
 * taken, and every worker before the main thread waits for the next block: a worker waiting for
 * room is never left waiting on blocks the main thread is done with.
 */
class TakenBlocks {
  private readonly untold = new Map<Worker, { bytes: number; lent: number; size: number }>();

  constructor(private readonly tellAfterBytes: number) {}

  /** `bytes` of a transferred block or one `lent` block, of `size` bytes, taken from `worker`. */
  add(worker: Worker, bytes: number, lent: number, size: number) {
    let counts = this.untold.get(worker);
    if (!counts) this.untold.set(worker, (counts = { bytes: 0, lent: 0, size: 0 }));
    counts.bytes += bytes;
    counts.lent += lent;
    counts.size += size;
    if (counts.size >= this.tellAfterBytes) this.tell(worker);
  }

  tell(worker: Worker) {
    const counts = this.untold.get(worker);
    if (!counts || (counts.bytes === 0 && counts.lent === 0)) return;
    worker.postMessage({ bytes: counts.bytes, lent: counts.lent });
    counts.bytes = counts.lent = counts.size = 0;
  }
}

/** The spans shared out among `workers` workers in turn, so each reads about as much, in order. */
function shareOut(spans: PlannedSpan[], workers: number): PlannedSpan[][] {
  const shares = Array.from({ length: workers }, (): PlannedSpan[] => []);
  spans.forEach((span, i) => shares[i % workers]!.push(span));
  return shares;
}

const damaged = (message: string, code = 'backup-pack-damaged') =>
  Object.assign(new Error(message), { code }) as Error & { code: string };

/**
 * The contents of these pack entries, in pack order, each checked against its hash; a content that
 * cannot be read comes with its error (the caller decides whether that ends the work). Stopping the
 * iteration early stops the worker. With `lent`, a content's bytes are valid only until the next
 * content is asked for (they are overwritten then): the caller must be done with them, or copy them.
 */
export async function* decodePackContents(
  packsDir: string,
  entries: Iterable<PackEntry>,
  { lent = false, ringBytes = defaultRingBytes }: { lent?: boolean; ringBytes?: number } = {},
): AsyncIterable<DecodedContent> {
  const spans = plan(entries);
  const count = Math.max(1, Math.min(maxWorkers, availableParallelism(), spans.length));
  const inbox: { message: WorkerMessage; from: Worker }[] = [];
  let notify: (() => void) | undefined;
  let exitError: Error | undefined;
  let running = count;
  const finished = new Set<Worker>();
  const wakeUp = () => {
    const n = notify;
    notify = undefined;
    n?.();
  };
  const rings = new Map<Worker, Buffer>();
  const taken = new TakenBlocks(Math.min(ackBytes, ringBytes / 8));
  const workers = shareOut(spans, count).map((share) => {
    const ring = lent ? new SharedArrayBuffer(ringBytes) : undefined;
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: {
        packsDir,
        packs: share,
        bytesInFlight: Math.ceil(bytesInFlight / count),
        spanBytes,
        ring,
        zstdBindingPath,
        maxInflateRatio,
      },
    });
    if (ring) rings.set(worker, Buffer.from(ring));
    worker.on('message', (message: WorkerMessage) => {
      if ('done' in message) finished.add(worker);
      inbox.push({ message, from: worker });
      wakeUp();
    });
    worker.on('error', (error) => {
      exitError ??= error;
      wakeUp();
    });
    worker.on('exit', () => {
      if (!finished.has(worker)) exitError ??= new Error('a pack reading worker stopped before it was done');
      wakeUp();
    });
    return worker;
  });
  try {
    while (running > 0) {
      const next = inbox.shift();
      if (!next) {
        if (exitError) throw exitError;
        for (const worker of workers) taken.tell(worker);
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
        continue;
      }
      const { message, from } = next;
      if ('done' in message) {
        running--;
        continue;
      }
      if ('fatal' in message) throw new Error(`the pack reading worker failed: ${message.fatal}`);
      if ('failed' in message) {
        for (const hash of message.failed) yield { hash, error: damaged(message.reason, message.code) };
        continue;
      }
      const block = message.memory
        ? Buffer.from(message.memory, message.at, message.length)
        : rings.get(from)!.subarray(message.at, message.at + message.length);
      for (const [hash, start, size, problem] of message.contents)
        yield problem ? { hash, error: damaged(problem) } : { hash, data: block.subarray(start, start + size) };
      // Taken: a lent block's place in the ring is written again from now on.
      taken.add(from, message.memory ? block.length : 0, message.memory ? 0 : 1, block.length);
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
