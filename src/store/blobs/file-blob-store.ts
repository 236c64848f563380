// Blobs as files under <data dir>/blobs/ab/cd/<sha256>: the embedded (SQLite) deployment.
// Written to a temporary file while hashing, synced, then renamed into place, so a file at its
// final name is always complete, and a crash leaves at most a stray temporary file.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { notFound } from '../../errors.ts';
import { chunksOf, isBlobHash, type BlobRef, type BlobSource, type BlobStore, type ByteRange } from './blob-store.ts';

export class FileBlobStore implements BlobStore {
  constructor(
    private readonly root: string,
    /** The clock of "last stored" (a file's mtime), as deleteIfStoredBefore compares it. */
    private readonly now: () => number = Date.now,
  ) {}

  async put(source: BlobSource): Promise<BlobRef> {
    return this.write(source, true);
  }

  /**
   * Writes a content without waiting for the disk: for a bulk load (a restore) that syncs everything
   * it wrote at once with syncWritten() before anything may refer to it. Syncing each file and its
   * directory one after the other left a restore waiting on the disk twice per large content.
   * `checkedHash`: the bytes were found to hash to it already (a backup's packs are checked as they
   * are read), so they are not hashed again.
   */
  async putUnsynced(source: BlobSource, checkedHash?: string): Promise<BlobRef> {
    // It names the file: only ever a hash.
    if (checkedHash !== undefined && !isBlobHash(checkedHash)) throw new Error(`${checkedHash} is not a content hash`);
    return this.write(source, false, checkedHash);
  }

  /** Puts the files of these contents and their directory entries on disk, several at a time. */
  async syncWritten(hashes: Iterable<string>, parallel = 16): Promise<void> {
    const paths = [...hashes].filter(isBlobHash).map((hash) => this.pathOf(hash));
    await eachAtOnce(paths, parallel, syncPath);
    await eachAtOnce([...new Set(paths.map((path) => dirname(path)))], parallel, syncPath);
  }

  private async write(source: BlobSource, sync: boolean, checkedHash?: string): Promise<BlobRef> {
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmpPath = join(tmpDir, randomUUID());
    const hasher = checkedHash ? undefined : createHash('sha256');
    let size = 0;
    const file = await open(tmpPath, 'wx');
    try {
      for await (const chunk of chunksOf(source)) {
        hasher?.update(chunk);
        size += chunk.length;
        await file.write(chunk);
      }
      if (sync) await file.sync();
    } catch (error) {
      await file.close();
      await rm(tmpPath, { force: true });
      throw error;
    }
    await file.close();

    const hash = checkedHash ?? hasher!.digest('hex');
    const finalPath = this.pathOf(hash);
    // Existing content is marked as stored again (its mtime), which keeps the collector off it; if
    // the collector took it away meanwhile, it is written anew.
    const storedAt = new Date(this.now());
    const stillThere = await utimes(finalPath, storedAt, storedAt).then(
      () => true,
      () => false,
    );
    if (stillThere) {
      await rm(tmpPath, { force: true });
    } else {
      await utimes(tmpPath, storedAt, storedAt);
      await mkdir(dirname(finalPath), { recursive: true });
      await rename(tmpPath, finalPath);
      if (sync) await syncPath(dirname(finalPath));
    }
    return { hash, size };
  }

  open(hash: string, range?: ByteRange): Readable {
    const path = isBlobHash(hash) ? this.pathOf(hash) : undefined;
    return Readable.from(
      (async function* () {
        const file = path ? await open(path, 'r').catch(() => undefined) : undefined;
        if (!file) throw notFound('blob-not-found', `blob ${hash} does not exist`);
        if (range && range.end <= range.start) return void (await file.close());
        yield* file.createReadStream({
          highWaterMark: 256 * 1024,
          ...(range ? { start: range.start, end: range.end - 1 } : {}),
        });
      })(),
      { objectMode: false },
    );
  }

  async has(hash: string): Promise<boolean> {
    return isBlobHash(hash) && exists(this.pathOf(hash));
  }

  /**
   * Moves the file aside first: a put() that touched it before the move shows in its mtime (and the
   * file goes back); a put() after the move finds nothing and writes the content anew.
   */
  async deleteIfStoredBefore(hash: string, storedBefore: number): Promise<void> {
    if (!isBlobHash(hash)) return;
    const path = this.pathOf(hash);
    const aside = join(this.root, 'tmp', `collect-${hash}-${randomUUID()}`);
    await mkdir(dirname(aside), { recursive: true });
    const moved = await rename(path, aside).then(
      () => true,
      () => false,
    );
    if (!moved) return;
    if ((await stat(aside)).mtimeMs >= storedBefore) {
      await rename(aside, path); // the same bytes as any file a put() wrote there meanwhile
      return;
    }
    await rm(aside, { force: true });
  }

  private pathOf(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

// A file's bytes, or a directory's entries (a rename is durable only once its directory is synced).
async function syncPath(path: string) {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Runs `work` on every item, at most `parallel` at once. */
async function eachAtOnce<T>(items: T[], parallel: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
}
