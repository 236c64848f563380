// `holdfast backup verify`: is this backup whole, and does it restore? Checks the manifest, the hash
// and size of every file it lists, then restores the backup into a scratch SQLite store in a
// temporary directory (which reads every row, checks every count, and hashes every content) and
// opens that store as the server would (schema version, migrations). One verdict line for people
// and scripts; the problems, each naming what is wrong, for the rest.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoldfastError } from '../errors.ts';
import { latestSchemaVersion } from '../store/migrations/index.ts';
import { openStore } from '../store/store.ts';
import { tableFiles } from './backup-format.ts';
import { openBackup } from './open-backup.ts';
import { restoreBackup } from './restore-backup.ts';

export interface VerifyResult {
  ok: boolean;
  verdict: string;
  problems: string[];
  id?: string;
  tables?: number;
  rows?: number;
  blobs?: number;
  durationMs?: number;
}

export interface VerifyOptions {
  /** Where the scratch store goes (the system's temporary directory by default). */
  scratchDir?: string;
  onProgress?: (progress: { table?: string; rows?: number; blobs?: number; step?: string }) => void;
}

export async function verifyBackup(dir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now();
  let backup: Awaited<ReturnType<typeof openBackup>>;
  try {
    backup = await openBackup(dir);
  } catch (error) {
    const problem = (error as Error).message;
    return { ok: false, verdict: `not usable: ${problem}`, problems: [problem] };
  }
  const { manifest } = backup;
  const problems: string[] = [];

  options.onProgress?.({ step: 'files' });
  problems.push(...(await backup.fileProblems()));
  for (const table of manifest.tables)
    for (const file of tableFiles(table))
      if (!manifest.files[file]) problems.push(`the manifest lists no hash for ${file}`);
  if (manifest.schemaVersion > latestSchemaVersion)
    problems.push(
      `schema version ${manifest.schemaVersion} is newer than this Holdfast's (${latestSchemaVersion}): verify it with a newer Holdfast`,
    );

  const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
  if (problems.length === 0) {
    options.onProgress?.({ step: 'restore' });
    const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), 'holdfast-verify-'));
    try {
      const target = {
        location: { kind: 'sqlite' as const, path: join(scratch, 'holdfast.sqlite') },
        dataDir: scratch,
      };
      const restored = await restoreBackup(backup.dir, target, {
        onProgress: options.onProgress,
        onContentProblem: (problem) => problems.push(problem),
        filesChecked: true,
      });
      for (const table of manifest.tables)
        if (restored.counts[table.name] !== table.rows)
          problems.push(
            `count mismatch in ${table.file}: ${restored.counts[table.name]} rows, the manifest says ${table.rows}`,
          );
      if (restored.contents !== manifest.contents.count)
        problems.push(`${restored.contents} contents restored, the manifest says ${manifest.contents.count}`);
      options.onProgress?.({ step: 'open' });
      const { store } = await openStore({ ...target, now: Date.now });
      await store.close();
    } catch (error) {
      problems.push(error instanceof HoldfastError ? error.message : `the restore failed: ${(error as Error).message}`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  const summary = `${manifest.tables.length} tables, ${rows} rows, ${manifest.contents.count} contents`;
  const ok = problems.length === 0;
  const lost = manifest.contents.missing.length
    ? `; ${manifest.contents.missing.length} content(s) were already missing in the store when it was taken`
    : '';
  const verdict = ok
    ? `backup ${manifest.id} is good: ${summary} (schema v${manifest.schemaVersion}, ${manifest.dialect}), restored into a scratch store and opened${lost}`
    : `backup ${manifest.id} is damaged: ${problems.length} problem(s), first: ${problems[0]}`;
  return {
    ok,
    verdict,
    problems,
    id: manifest.id,
    tables: manifest.tables.length,
    rows,
    blobs: manifest.contents.count,
    durationMs: Date.now() - started,
  };
}
