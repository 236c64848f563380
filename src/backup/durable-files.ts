// Files that are either complete or absent: written under a temporary name, synced, renamed, and the
// directory synced, so that a crash at any moment leaves nothing that looks finished.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Syncs a directory, so that names created or renamed in it survive a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Writes `data` to `path` through `<path>.tmp`: the file at `path` is whole or absent. */
export async function writeFileAtomically(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data, { flush: true });
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

/** SHA-256 (hex) and length of a file's bytes, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
