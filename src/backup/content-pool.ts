// The content pool of a backup target: each content once, named by the SHA-256 of its uncompressed
// bytes, shared by every backup in the target, so that a backup writes only the contents it does
// not find. Contents live in pack files (content-packs.ts); backups of format 1 kept one gzip file
// per content under blobs/ab/cd/, which is still read (and expired) but no longer written.
//
// The pool's index (every pack's entries) is read into memory when the pool is opened: about 150
// bytes per content, 15 MB for 100,000 messages.
import { createReadStream } from 'node:fs';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { poolDirName, poolPath } from './backup-format.ts';
import { decompressBlock } from './block-codec.ts';
import {
  packSuffix,
  packsDirName,
  packTempPrefix,
  readPackBlock,
  readPackIndex,
  type PackEntry,
} from './content-packs.ts';
import { readAll } from './content-stream.ts';
import { decodePackContents } from './pack-decoder.ts';

/** Pack indexes read at once when the pool is opened. */
const indexesAtOnce = 8;

/** Format-1 contents opened ahead of the one the caller is at. */
const readAhead = 64;

export class ContentPool {
  private constructor(
    readonly to: string,
    /** Where each content is; a content in several packs (an expiry interrupted) maps to the last read. */
    private readonly entries: Map<string, PackEntry>,
    /** Packs whose index cannot be read, with why: their contents count as absent. */
    readonly damagedPacks: { pack: string; reason: string }[],
    /** Every whole pack, by name. */
    readonly packs: string[],
  ) {}

  static async open(to: string): Promise<ContentPool> {
    const dir = join(to, packsDirName);
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => n.endsWith(packSuffix) && !n.startsWith(packTempPrefix))
      .sort();
    const entries = new Map<string, PackEntry>();
    const damaged: { pack: string; reason: string }[] = [];
    const packs: string[] = [];
    // Several read at once (their decompression runs in the thread pool), taken in name order.
    for (let first = 0; first < names.length; first += indexesAtOnce) {
      const group = names.slice(first, first + indexesAtOnce);
      const indexes = await Promise.allSettled(group.map((name) => readPackIndex(dir, name)));
      for (const [i, name] of group.entries()) {
        const index = indexes[i]!;
        if (index.status === 'rejected') {
          damaged.push({ pack: name, reason: (index.reason as Error).message });
          continue;
        }
        for (const entry of index.value) entries.set(entry.hash, entry);
        packs.push(name);
      }
    }
    return new ContentPool(to, entries, damaged, packs);
  }

  get packsDir(): string {
    return join(this.to, packsDirName);
  }

  /** A content's size if a pack holds it. */
  size(hash: string): number | undefined {
    return this.entries.get(hash)?.size;
  }

  /** Where a content is, for messages about it. */
  describe(hash: string): string {
    const entry = this.entries.get(hash);
    if (entry) return `${join(this.packsDir, entry.pack)} at byte ${entry.offset}`;
    const damaged = this.damagedPacks[0];
    return `in no pack of ${this.packsDir}${damaged ? ` (${this.damagedPacks.length} cannot be read; ${damaged.reason})` : ''}`;
  }

  /** Every content in a pack with where it is. */
  located(): IterableIterator<[string, PackEntry]> {
    return this.entries.entries();
  }

  /** A content's bytes, alone; fails with code 'ENOENT' when the pool does not hold it. */
  open(hash: string): Readable {
    const entry = this.entries.get(hash);
    if (!entry) return openLegacy(this.to, hash);
    const out = new PassThrough();
    readPackBlock(this.packsDir, entry)
      .then((block) => decompressBlock(block, entry.blockSize))
      .then(
        (block) => out.end(Buffer.from(block.subarray(entry.start, entry.start + entry.size))),
        (error) => out.destroy(error),
      );
    return out;
  }

  /**
   * The bytes of these contents, read pack by pack in the order they were written (long sequential
   * reads), each block decompressed once and each content checked against its hash, in a worker
   * thread (pack-decoder.ts). Each comes with a promise of its bytes and whether they were checked
   * already; a content that cannot be read (missing, damaged, its pack gone) has a rejected one,
   * met by the caller in turn. With `lent`, the bytes of contents from packs are valid only until
   * the next content is asked for (pack-decoder.ts).
   */
  async *read(hashes: Iterable<string>, { lent = false }: { lent?: boolean } = {}): AsyncIterable<PooledContent> {
    const inPacks: PackEntry[] = [];
    const elsewhere: string[] = [];
    for (const hash of hashes) {
      const entry = this.entries.get(hash);
      if (entry) inPacks.push(entry);
      else elsewhere.push(hash);
    }
    for await (const item of decodePackContents(this.packsDir, inPacks, { lent })) {
      const data = 'data' in item ? Promise.resolve(item.data) : Promise.reject(item.error);
      data.catch(() => {}); // met by the caller in its turn
      yield { hash: item.hash, data, checked: true };
    }
    // Format-1 files, and contents in no pack (which fail to open, saying so): opened a few at a time.
    const window: PooledContent[] = [];
    for (const hash of elsewhere) {
      const data = readAll(openLegacy(this.to, hash));
      data.catch(() => {});
      window.push({ hash, data, checked: false });
      while (window.length >= readAhead) yield window.shift()!;
    }
    yield* window.splice(0);
  }
}

/** A content read from the pool; `checked`: its bytes were found to hash to `hash`. */
export interface PooledContent {
  hash: string;
  data: Promise<Buffer>;
  checked: boolean;
}

/** Format-1 pool files below this size are read whole and decompressed at once rather than streamed. */
const smallPooledBytes = 1024 * 1024;

/** A format-1 pool file's uncompressed bytes; errors with code 'ENOENT' when it is not there. */
function openLegacy(to: string, hash: string): Readable {
  const out = new PassThrough();
  const path = poolPath(to, hash);
  const read = async () => {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      if (size < smallPooledBytes) {
        out.end(gunzipSync(await file.readFile()));
        return;
      }
    } finally {
      await file.close();
    }
    await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), createGunzip(), out);
  };
  read().catch((error) => out.destroy(error));
  return out;
}

/** Every format-1 pool file of `to`, by hash. */
export async function* legacyPoolContents(to: string): AsyncIterable<string> {
  const root = join(to, poolDirName);
  const list = (path: string) => readdir(path).catch(() => [] as string[]);
  for (const a of (await list(root)).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort())
    for (const b of (await list(join(root, a))).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort())
      for (const name of (await list(join(root, a, b))).sort()) {
        const match = /^([0-9a-f]{64})\.gz$/.exec(name);
        if (match) yield match[1]!;
      }
}

/** Removes a format-1 pool file; resolves to the bytes it held. */
export async function removeLegacyContent(to: string, hash: string): Promise<number> {
  const path = poolPath(to, hash);
  const { size } = await stat(path).catch(() => ({ size: 0 }));
  await rm(path, { force: true });
  return size;
}

/** Removes temporary files that backups which died left in the pool (packs being written). */
export async function removePoolLeftovers(to: string): Promise<void> {
  await rm(join(to, poolDirName, 'tmp'), { recursive: true, force: true });
  const dir = join(to, packsDirName);
  for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(packTempPrefix)))
    await rm(join(dir, name), { force: true });
}
