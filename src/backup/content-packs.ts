// Pack files: the contents of a backup target, many to a file. One file per content cost a create,
// a sync and a rename each, and reading them back an open, a stat and a close each: at 100,000
// messages that was most of a backup's and a restore's time. A pack is written once, start to end,
// synced once and renamed into place complete; it is read in long sequential spans.
//
//   <to>/packs/<name>.pack   blocks, each a zstd frame (block-codec.ts; a gzip member in packs of
//                            format 2) holding one or more whole contents back to back (about
//                            256 KB of them; a large content is a block of its own); then the
//                            index, a gzip'd JSON list of [hash, block offset, block length, start
//                            in the block, size]; then a footer of 24 bytes: "HFPACK01", the
//                            index's offset and its length (64-bit little-endian).
//
// Contents are compressed a block at a time because compressing or decompressing a few kilobytes
// costs mostly the call (the codec's set-up), not the bytes. A pack being written is named
// `.tmp-<name>.pack`: a crash leaves that, never a pack that looks whole. Any content can be read
// alone (partial restore) by decompressing its block.
import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { invalid } from '../errors.ts';
import { isBlobHash } from '../store/blobs/blob-store.ts';
import { compressBlock, compressingStream } from './block-codec.ts';
import { syncDirectory } from './durable-files.ts';
import { gzipLevel } from './ndjson-files.ts';

export const packsDirName = 'packs';
export const packSuffix = '.pack';
export const packTempPrefix = '.tmp-';

/**
 * Where a content is: its pack, its block's offset and compressed length, where in the block, its
 * size; and its block's uncompressed size (the furthest end of the block's contents).
 */
export interface PackEntry {
  hash: string;
  pack: string;
  offset: number;
  length: number;
  start: number;
  size: number;
  blockSize: number;
}

const footerMagic = Buffer.from('HFPACK01', 'latin1');
const footerBytes = 24;
/** A pack is sealed once it holds this much; an expiry keeps or rewrites it as a unit. */
export const packTargetBytes = 64 * 1024 * 1024;
/** Contents are gathered into blocks of about this many (uncompressed) bytes. */
const blockTargetBytes = 256 * 1024;
/** Contents at least this large are streamed into a block of their own rather than held whole. */
export const streamedContentBytes = 8 * 1024 * 1024;
/** Blocks compressed and waiting to be written, at most. */
const blocksInFlight = 4;

const gunzipAsync = promisify(gunzip);

const isOffset = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** The entries of a pack, by its index; fails naming the pack when it is not a whole pack. */
export async function readPackIndex(dir: string, name: string): Promise<PackEntry[]> {
  const path = join(dir, name);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const damaged = (why: string) => invalid('backup-pack-damaged', `pack ${path} is damaged: ${why}`);
    if (size < footerBytes) throw damaged(`it has ${size} bytes, too few for its footer`);
    const footer = await readExactly(file, size - footerBytes, footerBytes);
    if (!footer.subarray(0, 8).equals(footerMagic)) throw damaged('its footer is not a pack footer');
    const indexOffset = Number(footer.readBigUInt64LE(8));
    const indexLength = Number(footer.readBigUInt64LE(16));
    if (indexOffset + indexLength + footerBytes !== size) throw damaged('its footer does not match its length');
    let list: unknown;
    try {
      // Decompressed in the thread pool: a backup reads its target's indexes (100,000 entries at
      // 100,000 messages) while it reads the store.
      list = JSON.parse((await gunzipAsync(await readExactly(file, indexOffset, indexLength))).toString('utf8'));
    } catch (error) {
      throw damaged(`its index cannot be read (${(error as Error).message})`);
    }
    if (!Array.isArray(list)) throw damaged('its index is not a list');
    const entries: PackEntry[] = new Array(list.length);
    const blockSizes = new Map<number, number>();
    for (let i = 0; i < list.length; i++) {
      const [hash, offset, length, start, size] = list[i] as unknown[];
      if (
        typeof hash !== 'string' ||
        !isBlobHash(hash) ||
        !isOffset(offset) ||
        !isOffset(length) ||
        !isOffset(start) ||
        !isOffset(size) ||
        offset + length > indexOffset
      )
        throw damaged('its index holds an entry that is not [hash, offset, length, start, size] within the pack');
      entries[i] = { hash, pack: name, offset, length, start, size, blockSize: 0 };
      blockSizes.set(offset, Math.max(blockSizes.get(offset) ?? 0, start + size));
    }
    for (const entry of entries) entry.blockSize = blockSizes.get(entry.offset)!;
    return entries;
  } finally {
    await file.close();
  }
}

/** One content's block, read alone (partial restore). */
export async function readPackBlock(dir: string, entry: PackEntry): Promise<Buffer> {
  const file = await open(join(dir, entry.pack), 'r');
  try {
    return await readExactly(file, entry.offset, entry.length);
  } finally {
    await file.close();
  }
}

async function readExactly(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0)
      throw invalid(
        'backup-pack-damaged',
        `a pack ends before byte ${position + length}: it is shorter than its index says`,
      );
    done += bytesRead;
  }
  return buffer;
}

/**
 * Appends contents to packs in `dir`, named `<prefix>-0001.pack`, `-0002`, …, each sealed when it
 * reaches packTargetBytes. Contents are gathered into blocks; a full block is compressed in the
 * thread pool while the next fills, and blocks are written in the order they filled. Nothing is
 * visible under a pack's name until `finish` (or a pack filling up) has sealed, synced and renamed it.
 */
export class PackWriter {
  /** Packs sealed so far, by name. */
  readonly sealed: string[] = [];
  /** Bytes written so far (blocks, indexes, footers). */
  bytesWritten = 0;
  private file?: FileHandle;
  private name = '';
  private position = 0;
  private entries: [string, number, number, number, number][] = [];
  private block: { hash: string; data: Buffer }[] = [];
  private blockBytes = 0;
  /** Blocks handed on and not yet written, oldest first. */
  private inFlight: Promise<void>[] = [];
  private turn: Promise<unknown> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  /**
   * Adds a content held in memory. Bytes that do not hash to `hash` are refused: a pack holds only
   * what its index names. Resolves once the content is taken (waiting while blocks pile up).
   */
  async add(hash: string, data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== hash) throw hashMismatch(hash, actual);
    this.block.push({ hash, data });
    this.blockBytes += data.length;
    if (this.blockBytes >= blockTargetBytes) await this.flushBlock();
  }

  /**
   * Streams a large content into a block of its own; resolves to its size. Bytes that do not hash
   * to `hash` are refused, their block dropped (the next write goes over it).
   */
  async addStream(hash: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    await this.flushBlock();
    return this.inTurn(async () => {
      const file = await this.current();
      const hasher = createHash('sha256');
      let size = 0;
      const start = this.position;
      await pipeline(
        source,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hasher.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        compressingStream(),
        async (compressed: AsyncIterable<Buffer>) => {
          for await (const chunk of compressed) {
            await writeAll(file, chunk, this.position);
            this.position += chunk.length;
            this.bytesWritten += chunk.length;
          }
        },
      );
      const actual = hasher.digest('hex');
      if (actual !== hash) {
        this.bytesWritten -= this.position - start;
        this.position = start;
        throw hashMismatch(hash, actual);
      }
      this.entries.push([hash, start, this.position - start, 0, size]);
      if (this.position >= packTargetBytes) await this.seal();
      return { size };
    });
  }

  /** Writes what is gathered, seals the open pack and syncs the directory: every pack written is on disk. */
  async finish(): Promise<string[]> {
    await this.flushBlock();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    return this.inTurn(async () => {
      await this.seal();
      if (this.sealed.length > 0) await syncDirectory(this.dir);
      return this.sealed;
    });
  }

  /** Gives up: the open pack's temporary file goes; packs sealed already stay (the caller decides). */
  async abort(): Promise<void> {
    this.block = [];
    await Promise.allSettled(this.inFlight);
    await this.inTurn(async () => {
      const file = this.file;
      this.file = undefined;
      if (!file) return;
      await file.close().catch(() => {});
      await rm(join(this.dir, `${packTempPrefix}${this.name}`), { force: true });
    }).catch(() => {});
  }

  /** Compresses the gathered contents as one block and queues it to be written after those before it. */
  private async flushBlock(): Promise<void> {
    if (this.block.length === 0) return;
    const contents = this.block;
    this.block = [];
    this.blockBytes = 0;
    // Compressed here, at once: about a millisecond for a block, while earlier blocks are written.
    const block = compressBlock(Buffer.concat(contents.map((c) => c.data)));
    const written = this.inTurn(async () => {
      const file = await this.current();
      await writeAll(file, block, this.position);
      let start = 0;
      for (const { hash, data } of contents) {
        this.entries.push([hash, this.position, block.length, start, data.length]);
        start += data.length;
      }
      this.position += block.length;
      this.bytesWritten += block.length;
      if (this.position >= packTargetBytes) await this.seal();
    }).catch((error) => {
      this.failure ??= error;
    });
    this.inFlight.push(written);
    written.finally(() => this.inFlight.splice(this.inFlight.indexOf(written), 1));
    // Back pressure: the caller waits while too many blocks are on their way.
    while (this.inFlight.length > blocksInFlight) await this.inFlight[0];
    if (this.failure) throw this.failure;
  }

  /** Runs `work` after everything queued before it; a failure fails that call only. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work);
    this.turn = result.catch(() => {});
    return result;
  }

  private async current(): Promise<FileHandle> {
    if (this.file) return this.file;
    this.name = `${this.prefix}-${String(this.sealed.length + 1).padStart(4, '0')}${packSuffix}`;
    this.file = await open(join(this.dir, `${packTempPrefix}${this.name}`), 'wx');
    this.position = 0;
    this.entries = [];
    return this.file;
  }

  private async seal(): Promise<void> {
    const file = this.file;
    if (!file) return;
    const index = gzipSync(JSON.stringify(this.entries), { level: gzipLevel });
    const footer = Buffer.alloc(footerBytes);
    footerMagic.copy(footer, 0);
    footer.writeBigUInt64LE(BigInt(this.position), 8);
    footer.writeBigUInt64LE(BigInt(index.length), 16);
    await writeAll(file, Buffer.concat([index, footer]), this.position);
    this.bytesWritten += index.length + footer.length;
    await file.sync();
    await file.close();
    this.file = undefined;
    await rename(join(this.dir, `${packTempPrefix}${this.name}`), join(this.dir, this.name));
    this.sealed.push(this.name);
  }
}

const hashMismatch = (hash: string, actual: string) =>
  invalid('content-hash-mismatch', `content ${hash} read from the store hashes to ${actual}: it is damaged`);

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
