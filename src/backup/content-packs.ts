// Pack files: the contents of a backup target, many to a file. One file per content cost a create,
// a sync and a rename each, and reading them back an open, a stat and a close each: at 100,000
// messages that was most of a backup's and a restore's time. A pack is written once, start to end,
// synced once and renamed into place complete; it is read in long sequential spans.
//
//   <to>/packs/<name>.pack   the contents, each a gzip member of its own, back to back; then the
//                            index, a gzip'd JSON list of [hash, offset, length, size] (size: the
//                            content's uncompressed bytes); then a footer of 24 bytes: "HFPACK01",
//                            the index's offset and its length (each a 64-bit little-endian integer).
//
// A pack being written is named `.tmp-<name>.pack`: a crash leaves that, never a pack that looks
// whole. Any member can be read alone (partial restore) from the offset and length in the index.
import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalid } from '../errors.ts';
import { syncDirectory } from './durable-files.ts';
import { gzipLevel } from './ndjson-files.ts';

export const packsDirName = 'packs';
export const packSuffix = '.pack';
export const packTempPrefix = '.tmp-';

/** Where a content is: which pack, the member's offset and compressed length, the content's size. */
export interface PackEntry {
  hash: string;
  pack: string;
  offset: number;
  length: number;
  size: number;
}

const footerMagic = Buffer.from('HFPACK01', 'latin1');
const footerBytes = 24;
/** A pack is sealed once it holds this much; a restore reads it, an expiry rewrites it, as a unit. */
export const packTargetBytes = 64 * 1024 * 1024;
/** Contents at least this large are streamed into a pack rather than compressed in one piece. */
export const streamedContentBytes = 8 * 1024 * 1024;

const gzipAsync = promisify(gzip);

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
      list = JSON.parse(gunzipSync(await readExactly(file, indexOffset, indexLength)).toString('utf8'));
    } catch (error) {
      throw damaged(`its index cannot be read (${(error as Error).message})`);
    }
    if (!Array.isArray(list)) throw damaged('its index is not a list');
    return list.map((item) => {
      const [hash, offset, length, contentSize] = item as [unknown, unknown, unknown, unknown];
      if (
        typeof hash !== 'string' ||
        !/^[0-9a-f]{64}$/.test(hash) ||
        ![offset, length, contentSize].every((n) => Number.isSafeInteger(n) && (n as number) >= 0) ||
        (offset as number) + (length as number) > indexOffset
      )
        throw damaged(`its index holds an entry that is not [hash, offset, length, size] within the pack`);
      return { hash, pack: name, offset: offset as number, length: length as number, size: contentSize as number };
    });
  } finally {
    await file.close();
  }
}

/** Spans read at once when members are read in order (most members are a few kilobytes). */
const spanBytes = 8 * 1024 * 1024;

/**
 * The compressed members of one pack at these entries, in the order given (sorted by offset, they
 * are read in long spans). Fails if the pack is missing or shorter than its index says.
 */
export async function* readPackMembers(
  dir: string,
  name: string,
  entries: PackEntry[],
): AsyncIterable<{ entry: PackEntry; member: Buffer }> {
  const file = await open(join(dir, name), 'r');
  try {
    for (let i = 0; i < entries.length; ) {
      const start = entries[i]!.offset;
      let end = start + entries[i]!.length;
      let j = i + 1;
      // Neighbours in the pack share one read, as long as the span stays short.
      while (
        j < entries.length &&
        entries[j]!.offset >= start &&
        entries[j]!.offset + entries[j]!.length - start <= spanBytes
      ) {
        end = Math.max(end, entries[j]!.offset + entries[j]!.length);
        j++;
      }
      const span = await readExactly(file, start, end - start);
      for (; i < j; i++) {
        const entry = entries[i]!;
        yield { entry, member: span.subarray(entry.offset - start, entry.offset - start + entry.length) };
      }
    }
  } finally {
    await file.close();
  }
}

/** One member read alone (partial restore, a single content). */
export async function readPackMember(dir: string, entry: PackEntry): Promise<Buffer> {
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
 * reaches packTargetBytes. Contents are compressed in the thread pool, several at once, and
 * appended one at a time in the order their compression finishes. Nothing is visible under a
 * pack's name until `finish` (or a pack filling up) has sealed, synced and renamed it.
 */
export class PackWriter {
  /** Packs sealed so far, by name. */
  readonly sealed: string[] = [];
  /** Bytes of sealed and open packs written so far (members, indexes, footers). */
  bytesWritten = 0;
  private file?: FileHandle;
  private name = '';
  private position = 0;
  private entries: [string, number, number, number][] = [];
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {}

  /**
   * Compresses a content held in memory and appends it; resolves to its compressed length. Bytes
   * that do not hash to `hash` are refused: a pack holds only what its index names.
   */
  async add(hash: string, data: Buffer): Promise<number> {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== hash) throw hashMismatch(hash, actual);
    const member = await gzipAsync(data, { level: gzipLevel });
    await this.append(hash, member, data.length);
    return member.length;
  }

  /** Appends a member as it is (an expiry moves members between packs without recompressing them). */
  append(hash: string, member: Buffer, size: number): Promise<void> {
    return this.inTurn(async () => {
      const file = await this.current();
      await writeAll(file, member, this.position);
      this.entries.push([hash, this.position, member.length, size]);
      this.position += member.length;
      this.bytesWritten += member.length;
      if (this.position >= packTargetBytes) await this.seal();
    });
  }

  /**
   * Streams a large content into the pack (one at a time: the pack is written in order); resolves to
   * its size and compressed length. Bytes that do not hash to `hash` are refused, their member
   * dropped (the next write goes over it).
   */
  addStream(hash: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number; length: number }> {
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
        createGzip({ level: gzipLevel }),
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
      this.entries.push([hash, start, this.position - start, size]);
      if (this.position >= packTargetBytes) await this.seal();
      return { size, length: this.position - start };
    });
  }

  /** Seals the open pack, if any, and syncs the directory: every pack written is then on disk. */
  finish(): Promise<string[]> {
    return this.inTurn(async () => {
      await this.seal();
      if (this.sealed.length > 0) await syncDirectory(this.dir);
      return this.sealed;
    });
  }

  /** Gives up: the open pack's temporary file goes; packs sealed already stay (the caller decides). */
  abort(): Promise<void> {
    return this.inTurn(async () => {
      const file = this.file;
      this.file = undefined;
      if (!file) return;
      await file.close().catch(() => {});
      await rm(join(this.dir, `${packTempPrefix}${this.name}`), { force: true });
    });
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
