// What Holdfast keeps on disk — the database and its WAL, blobs (mail), DKIM private keys, password
// hashes, TLS keys, backups — is for Holdfast's own user only. New files are created under umask
// 077 (files 0600, directories 0700); what an older version, a restore or an administrator left
// more open is tightened at start, so nothing depends on how the data dir came to be.
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** No permission for group or others on anything Holdfast creates. */
export const privateUmask = 0o077;

/**
 * Sets this process's umask to `privateUmask`, then takes group and other permissions off every
 * file and directory under `paths` (symbolic links are neither followed nor changed), or with
 * `{ walk: false }` off the paths themselves only. Answers how many were too open.
 */
export async function keepPrivate(paths: string[], { walk = true }: { walk?: boolean } = {}): Promise<number> {
  process.umask(privateUmask);
  let tightened = 0;
  const visit = async (path: string): Promise<void> => {
    const stats = await lstat(path).catch(() => undefined); // not created yet: the umask covers it
    if (!stats || stats.isSymbolicLink()) return;
    if (stats.mode & privateUmask) {
      await chmod(path, stats.mode & 0o700);
      tightened++;
    }
    if (walk && stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  for (const path of new Set(paths)) await visit(path);
  return tightened;
}
