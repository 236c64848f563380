// `holdfast backup restore`: a whole backup into an empty data directory or database. The backup's
// schema is created, its rows and contents loaded, the schema upgraded to this Holdfast's, and every
// folder and calendar given new identities so that clients which saw a later state resync
// (store-loader.ts, restored-identities.ts). A backup of a newer schema is refused.
import { describeLocation, type StoreLocation } from '../store/database.ts';
import type { Readable } from 'node:stream';
import { openBackup, type OpenedBackup } from './open-backup.ts';
import { loadStore, type LoadResult, type LoadSource } from './store-loader.ts';
import { requireEmptyTarget } from './target-state.ts';

export interface RestoreOptions {
  now?: () => number;
  onProgress?: (progress: { table?: string; rows?: number; blobs?: number }) => void;
  /** Reports a missing or damaged content and goes on (verify); without it the restore fails. */
  onContentProblem?: (problem: string) => void;
  /** The caller checked every file against the manifest already (verify): skip doing it again. */
  filesChecked?: boolean;
}

export interface RestoreSummary extends LoadResult {
  id: string;
  dir: string;
  target: string;
  createdAt: number;
  durationMs: number;
}

export async function restoreBackup(
  dir: string,
  target: { location: StoreLocation; dataDir: string },
  options: RestoreOptions = {},
): Promise<RestoreSummary> {
  const started = Date.now();
  const backup = await openBackup(dir);
  try {
    // A table file that is short of rows would still decompress: refuse what the manifest does not vouch for.
    if (!options.filesChecked) await backup.checkFiles();
    await requireEmptyTarget(target.location, 'A restore');
    const result = await loadStore(await backupSource(backup), target, {
      now: (options.now ?? Date.now)(),
      renewIdentities: true,
      onProgress: options.onProgress,
      onContentProblem: options.onContentProblem,
    });
    return {
      id: backup.manifest.id,
      dir: backup.dir,
      target: describeLocation(target.location),
      createdAt: backup.manifest.createdAt,
      durationMs: Date.now() - started,
      ...result,
    };
  } finally {
    await backup.close();
  }
}

/** A backup as something a store is loaded from. */
export async function backupSource(backup: OpenedBackup): Promise<LoadSource> {
  const pool = await backup.pool();
  return {
    name: `backup ${backup.manifest.id}`,
    schemaVersion: backup.manifest.schemaVersion,
    tables: backup.manifest.tables.map((t) => ({ name: t.name, columns: t.columns })),
    rows: (table) => backup.rowBatches(table.name),
    contents: () => backup.contents(),
    openContent: (hash): Readable => backup.openBlob(hash),
    readContents: (options) => backup.readContents(options),
    describeContent: (hash) => pool.describe(hash),
  };
}
