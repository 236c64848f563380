// The backups in a target directory and their expiry. Only complete backups (a directory named by
// its id, with its manifest) count; `.partial-…` directories are backups being written or left by
// a crash. Expiry keeps the newest N, removes the others, then removes from the shared pool the
// contents no kept backup lists (pool-expiry.ts), and never one while a backup may be writing (it
// may be about to list a content it found there).
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../errors.ts';
import { checkManifest, isBackupId, manifestName, tableFiles } from './backup-format.ts';
import { removePoolLeftovers } from './content-pool.ts';
import { openBackup } from './open-backup.ts';
import { expirePool } from './pool-expiry.ts';
import { expireSegments } from './table-segments.ts';

export interface BackupListing {
  id: string;
  dir: string;
  createdAt: number;
  finishedAt: number;
  schemaVersion: number;
  dialect: 'sqlite' | 'postgres';
  holdfastVersion: string;
  counts: Record<string, number>;
  rows: number;
  blobs: number;
  blobBytes: number;
}

/** Complete backups in `to`, oldest first. */
export async function listBackups(to: string): Promise<BackupListing[]> {
  return (await scanBackups(to)).complete;
}

/** A backup directory whose manifest is missing or cannot be read (a backup renamed into place always has one). */
export interface DamagedBackup {
  name: string;
  reason: string;
}

/** The backups in `to`: complete ones oldest first, and damaged ones. */
export async function scanBackups(to: string): Promise<{ complete: BackupListing[]; damaged: DamagedBackup[] }> {
  const names = await readdir(to).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const complete: BackupListing[] = [];
  const damaged: DamagedBackup[] = [];
  for (const name of names.filter(isBackupId)) {
    const dir = join(to, name);
    const text = await readFile(join(dir, manifestName), 'utf8').catch(() => undefined);
    if (text === undefined) {
      damaged.push({ name, reason: `it has no ${manifestName}` });
      continue;
    }
    let manifest: ReturnType<typeof checkManifest>;
    try {
      manifest = checkManifest(JSON.parse(text), join(dir, manifestName));
    } catch (error) {
      damaged.push({ name, reason: `its ${manifestName} is damaged (${(error as Error).message.split('\n')[0]})` });
      continue;
    }
    complete.push({
      id: manifest.id,
      dir,
      createdAt: manifest.createdAt,
      finishedAt: manifest.finishedAt,
      schemaVersion: manifest.schemaVersion,
      dialect: manifest.dialect,
      holdfastVersion: manifest.holdfastVersion,
      counts: Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows])),
      rows: manifest.tables.reduce((sum, t) => sum + t.rows, 0),
      blobs: manifest.contents.count,
      blobBytes: manifest.contents.bytes,
    });
  }
  return { complete: complete.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)), damaged };
}

/** Directories of backups being written (or left by a crash), with their age. */
export async function partialBackups(to: string, now = Date.now()): Promise<{ name: string; ageMs: number }[]> {
  const names = await readdir(to).catch(() => [] as string[]);
  const partials: { name: string; ageMs: number }[] = [];
  for (const name of names.filter((n) => n.startsWith('.partial-'))) {
    const info = await stat(join(to, name)).catch(() => undefined);
    if (info) partials.push({ name, ageMs: now - info.mtimeMs });
  }
  return partials;
}

export interface ExpiryResult {
  kept: string[];
  removed: string[];
  blobsRemoved: number;
  bytesFreed: number;
  /** Why unused contents were left in the pool this time, if they were. */
  poolKept?: string;
}

/** A partial backup older than this is taken for a crash's leftover, not one being written. */
const abandonedAfterMs = 24 * 3600_000;

export async function expireBackups(to: string, keep: number, now = Date.now()): Promise<ExpiryResult> {
  if (!Number.isInteger(keep) || keep < 1)
    throw invalid('invalid-keep', `keep = ${keep} is not allowed: keep at least the newest backup (1 or more)`);
  const { complete, damaged } = await scanBackups(to);
  const backups = complete.reverse();
  const kept = backups.slice(0, keep);
  const expired = backups.slice(keep);

  // What the kept backups need, read before anything is removed: a list that cannot be read stops
  // the expiry, since its contents cannot be told apart from unused ones.
  const needed = new Set<string>();
  const neededSegments = new Set<string>();
  for (const listing of kept) {
    const backup = await openBackup(listing.dir);
    for await (const { hash } of backup.contents()) needed.add(hash);
    for (const table of backup.manifest.tables) for (const file of tableFiles(table)) neededSegments.add(file);
  }

  for (const listing of expired) {
    // Renamed first, so a crash halfway leaves no half-removed directory that looks complete.
    const aside = join(to, `.expired-${listing.id}`);
    await rename(listing.dir, aside);
    await rm(aside, { recursive: true, force: true });
  }
  for (const name of (await readdir(to)).filter((n) => n.startsWith('.expired-')))
    await rm(join(to, name), { recursive: true, force: true });

  // A backup that cannot be read may still need any content of the pool: keep them all until it is
  // repaired or removed by hand.
  if (damaged.length > 0)
    return {
      kept: kept.map((b) => b.id),
      removed: expired.map((b) => b.id),
      blobsRemoved: 0,
      bytesFreed: 0,
      poolKept: `${damaged.map((d) => `${d.name}: ${d.reason}`).join('; ')}: no content is removed while a backup cannot be read (repair it, or remove its directory by hand)`,
    };

  const partials = await partialBackups(to, now);
  for (const partial of partials.filter((p) => p.ageMs > abandonedAfterMs))
    await rm(join(to, partial.name), { recursive: true, force: true });
  const writing = partials.filter((p) => p.ageMs <= abandonedAfterMs);
  if (writing.length > 0)
    return {
      kept: kept.map((b) => b.id),
      removed: expired.map((b) => b.id),
      blobsRemoved: 0,
      bytesFreed: 0,
      poolKept: `a backup is being written (${writing.map((p) => p.name).join(', ')}): unused contents are removed at the next expiry`,
    };

  await removePoolLeftovers(to);
  const pool = await expirePool(to, needed, now);
  const segments = await expireSegments(to, neededSegments);
  return {
    kept: kept.map((b) => b.id),
    removed: expired.map((b) => b.id),
    blobsRemoved: pool.contentsRemoved,
    bytesFreed: pool.bytesFreed + segments.bytes,
  };
}
