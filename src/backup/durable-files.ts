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

/** Pause between two syncs of a file being written (syncedWhileWritten). */
const syncPauseMs = 200;

/**
 * Syncs the file at `path` over and over while `work` writes it, so its bytes go to the disk as they
 * are written instead of all in one sync at the end: the kernel starts writing dirty pages on its
 * own only past a share of the memory (10 % by default), more than a restored store of a few GB,
 * and the one sync at its end then waited for all of it (a second per ~400 MB here). The syncs run
 * in the thread pool, so the writing thread does not wait for them. The caller still syncs the file
 * once it is complete.
 */
export async function syncedWhileWritten<T>(path: string, work: () => Promise<T>): Promise<T> {
  const file = await open(path, 'r');
  let done = false;
  const syncing = (async () => {
    while (!done) {
      await file.datasync();
      await new Promise((resolve) => setTimeout(resolve, syncPauseMs));
    }
  })().catch(() => {
    // Syncing early only saves time: a sync that fails stops it, and the caller's own sync at the
    // end (or its write) meets the problem and reports it.
  });
  try {
    return await work();
  } finally {
    done = true;
    await syncing;
    await file.close();
  }
}
