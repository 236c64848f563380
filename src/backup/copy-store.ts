// `holdfast store copy`: a live store into another, empty one (SQLite to PostgreSQL and back), read
// from one snapshot while the source serves, loaded as a restore loads a backup but without files in
// between. A catch-up (`--catch-up`, with the source stopped) loads the rows again into the earlier
// copy and keeps the contents it has: rows carry no change time to copy only what changed, and
// reloading them costs a fraction of copying contents.
import { describeLocation, type StoreLocation } from '../store/database.ts';
import type { Store } from '../store/store.ts';
import { conflict, invalid } from '../errors.ts';
import { takeContentHold } from './content-hold.ts';
import { flatten } from './snapshot-shape.ts';
import { openSnapshot } from './store-snapshot.ts';
import { loadStore, type LoadResult } from './store-loader.ts';
import { requireEmptyTarget, targetContents } from './target-state.ts';

export interface CopyOptions {
  /** Replace the rows of an earlier copy in the target, keeping its contents. */
  catchUp?: boolean;
  /** New UIDVALIDITY and sync floors in the copy: for a copy taken while the source serves. */
  renewIdentities: boolean;
  now?: () => number;
  onProgress?: (progress: { table?: string; rows?: number; blobs?: number }) => void;
}

export interface CopySummary extends LoadResult {
  source: string;
  target: string;
  catchUp: boolean;
  missingContents: number;
  durationMs: number;
}

export async function copyStore(
  source: Store,
  target: { location: StoreLocation; dataDir: string },
  options: CopyOptions,
): Promise<CopySummary> {
  const started = Date.now();
  const now = options.now ?? Date.now;
  const from = describeLocation(source.handle.location);
  const to = describeLocation(target.location);
  if (from === to) throw invalid('copy-onto-itself', `the target ${to} is the store being copied`);
  if (options.catchUp) {
    const there = await targetContents(target.location);
    if (!there?.startsWith('a Holdfast store'))
      throw conflict(
        'no-earlier-copy',
        `${to} holds ${there ?? 'nothing'}: --catch-up replaces an earlier copy; copy without it first`,
      );
  } else await requireEmptyTarget(target.location, 'store copy');

  const hold = await takeContentHold(source.db, now, `store copy to ${to}`);
  let missingContents = 0;
  try {
    const snapshot = await openSnapshot(source);
    try {
      const result = await loadStore(
        {
          name: 'the source store',
          schemaVersion: snapshot.schemaVersion,
          tables: snapshot.tables,
          rows: (table) => snapshot.rows(table),
          contents: () => flatten(snapshot.contents()),
          openContent: (hash) => source.blobs.open(hash),
          describeContent: () => `in ${from}`,
        },
        target,
        {
          now: now(),
          renewIdentities: options.renewIdentities,
          replace: options.catchUp,
          onProgress: options.onProgress,
          // A content the source lost before the copy cannot be copied; the copy says how many.
          onContentProblem: () => missingContents++,
        },
      );
      return {
        ...result,
        source: from,
        target: to,
        catchUp: Boolean(options.catchUp),
        missingContents,
        durationMs: Date.now() - started,
      };
    } finally {
      await snapshot.close();
    }
  } finally {
    await hold.release().catch(() => {});
  }
}
