// The content pool of a backup target: each content once, gzip'd, named by the SHA-256 of its
// uncompressed bytes, shared by every backup in the target. A content is written to a temporary
// file, checked against its name, synced and renamed, so a name in the pool always holds the whole
// content; a backup writes only the contents it does not find.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, gunzipSync } from 'node:zlib';
import { invalid } from '../errors.ts';
import { poolDirName, poolPath } from './backup-format.ts';
import { gzipLevel } from './ndjson-files.ts';

export async function pooled(to: string, hash: string): Promise<boolean> {
  return stat(poolPath(to, hash)).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Writes a content into the pool under `hash`, refusing bytes that do not hash to it. The new
 * file's directory is added to `dirsToSync`: the caller syncs them all once, before the manifest.
 * `made` remembers the directories made already (one set per backup run), so that each is made once.
 * Returns the content's size and the bytes written.
 */
export async function addToPool(
  to: string,
  hash: string,
  source: Readable | AsyncIterable<Uint8Array>,
  dirsToSync: Set<string>,
  made: Set<string> = new Set(),
): Promise<{ size: number; bytes: number }> {
  const tmpDir = join(to, poolDirName, 'tmp');
  await makeDirOnce(tmpDir, made);
  const tmp = join(tmpDir, randomUUID());
  const hasher = createHash('sha256');
  let size = 0;
  let bytes = 0;
  try {
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
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
      // flush: synced before it is closed, so the rename below publishes a content on disk.
      createWriteStream(tmp, { flags: 'wx', flush: true }),
    );
    const actual = hasher.digest('hex');
    if (actual !== hash)
      throw invalid('content-hash-mismatch', `content ${hash} read from the store hashes to ${actual}: it is damaged`);
    const path = poolPath(to, hash);
    await makeDirOnce(dirname(path), made);
    await rename(tmp, path);
    dirsToSync.add(dirname(path));
    return { size, bytes };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

async function makeDirOnce(path: string, made: Set<string>): Promise<void> {
  if (made.has(path)) return;
  await mkdir(path, { recursive: true });
  made.add(path);
}

/** Pooled files below this size are read whole and decompressed at once rather than streamed. */
const smallPooledBytes = 1024 * 1024;

/** A pooled content's uncompressed bytes; errors with code 'ENOENT' when it is not there. */
export function openPooled(to: string, hash: string): Readable {
  const out = new PassThrough();
  const path = poolPath(to, hash);
  const read = async () => {
    // Most contents are small mail: one read and one inflate cost less than a stream pipeline each.
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

/** A pooled content's size, from the gzip trailer (exact below 4 GiB, which every message is). */
export async function pooledSize(to: string, hash: string): Promise<number> {
  const file = await open(poolPath(to, hash), 'r');
  try {
    const { size } = await file.stat();
    const trailer = Buffer.alloc(4);
    await file.read(trailer, 0, 4, size - 4);
    return trailer.readUInt32LE(0);
  } finally {
    await file.close();
  }
}

/** Every content in the pool of `to`, by hash. */
export async function* poolContents(to: string): AsyncIterable<string> {
  const root = join(to, poolDirName);
  const list = (path: string) => readdir(path).catch(() => [] as string[]);
  for (const a of (await list(root)).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort())
    for (const b of (await list(join(root, a))).filter((n) => /^[0-9a-f]{2}$/.test(n)).sort())
      for (const name of (await list(join(root, a, b))).sort()) {
        const match = /^([0-9a-f]{64})\.gz$/.exec(name);
        if (match) yield match[1]!;
      }
}

export async function removeFromPool(to: string, hash: string): Promise<void> {
  await rm(poolPath(to, hash), { force: true });
}

/** Removes temporary files a backup that died left in the pool. */
export async function removePoolLeftovers(to: string): Promise<void> {
  await rm(join(to, poolDirName, 'tmp'), { recursive: true, force: true });
}
