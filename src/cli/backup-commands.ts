// holdfast backup create|verify|restore|list|expire — consistent online backups of the store (the
// database and the contents it refers to), their verification, and a whole restore into an empty
// data directory or database.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultBackupDir } from '../backup/backup-location.ts';
import { expireBackups, scanBackups } from '../backup/backup-list.ts';
import { createBackup } from '../backup/create-backup.ts';
import { restoreBackup } from '../backup/restore-backup.ts';
import { verifyBackup } from '../backup/verify-backup.ts';
import { loadConfig } from '../config/load.ts';
import { notFound } from '../errors.ts';
import { describeLocation } from '../store/database.ts';
import { action, integerOption, withDirectory } from './context.ts';
import { print, table, timeText } from './output.ts';

export function registerBackupCommands(program: Command) {
  const backup = program
    .command('backup')
    .description('consistent backups of the store while it serves; verify, restore, list and expire them');

  action<[]>(
    backup
      .command('create')
      .description('back up the database and every content it refers to, while the server runs')
      .option('--to <dir>', 'where backups go (default: <data dir>/backups/snapshots; better another disk)'),
    (options) =>
      withDirectory(async ({ config, store }) => {
        const to = resolve(options.to ?? defaultBackupDir(config.dataDir));
        const summary = await createBackup(store, {
          to,
          onProgress: progress(options.json),
        });
        clearProgress(options.json);
        print(options, summary, () =>
          [
            `backup ${summary.id} written to ${summary.dir}`,
            `  ${Object.values(summary.counts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(summary.counts).length} tables (${summary.counts.messages ?? 0} messages), schema v${summary.schemaVersion} (${summary.dialect})`,
            `  ${summary.blobs} contents, ${summary.newBlobs} new (the others were in ${to} already); ${megabytes(summary.bytesWritten)} written in ${seconds(summary.durationMs)}`,
            ...(summary.missingBlobs.length
              ? [`  warning: ${summary.missingBlobs.length} content(s) the store refers to were already missing`]
              : []),
            `  check it with: holdfast backup verify ${summary.dir}`,
          ].join('\n'),
        );
      }),
  );

  action<[string]>(
    backup
      .command('verify <dir>')
      .description('check every hash and count, restore into a scratch store and open it; exit status 1 if damaged')
      .option('--scratch <dir>', 'where the scratch store goes (default: the system temporary directory)'),
    async (dir, options) => {
      const result = await verifyBackup(resolve(dir), {
        scratchDir: options.scratch,
        onProgress: progress(options.json),
      });
      clearProgress(options.json);
      print(options, result, () => [result.verdict, ...result.problems.slice(1).map((p) => `  also: ${p}`)].join('\n'));
      if (!result.ok) process.exitCode = 1;
    },
  );

  action<[string]>(
    backup
      .command('restore <dir>')
      .description(
        'restore a whole backup into the configured data directory or database, which must be empty (the server stopped)',
      ),
    async (dir, options) => {
      const config = loadConfig();
      const summary = await restoreBackup(
        resolve(dir),
        { location: config.database, dataDir: config.dataDir },
        { onProgress: progress(options.json) },
      );
      clearProgress(options.json);
      print(options, summary, () =>
        [
          `restored backup ${summary.id} (taken ${timeText(summary.createdAt)}) into ${describeLocation(config.database)}`,
          `  ${Object.values(summary.counts).reduce((a, b) => a + b, 0)} rows, ${summary.counts.messages ?? 0} messages, ${summary.contents} contents in ${seconds(summary.durationMs)}; schema v${summary.schemaVersion}${summary.migratedTo !== summary.schemaVersion ? ` upgraded to v${summary.migratedTo}` : ''}`,
          `  ${summary.renewed?.folders ?? 0} folders have a new UIDVALIDITY and ${summary.renewed?.calendars ?? 0} calendars new sync tokens: mail and calendar clients resync them`,
          '  start Holdfast as usual',
        ].join('\n'),
      );
    },
  );

  action<[]>(
    backup
      .command('list')
      .description('the complete backups in a directory, oldest first')
      .option('--to <dir>', 'where backups go (default: <data dir>/backups/snapshots)'),
    async (options) => {
      const to = existingPlace(options.to);
      const { complete: backups, damaged } = await scanBackups(to);
      if (damaged.length > 0) process.exitCode = 1;
      const damagedText = damaged.map((d) => `damaged: ${d.name}: ${d.reason}`);
      print(options, backups, () =>
        backups.length === 0
          ? [`no complete backups in ${to}`, ...damagedText].join('\n')
          : [
              table(
                ['ID', 'TAKEN', 'SCHEMA', 'FROM', 'MESSAGES', 'CONTENTS', 'CONTENT SIZE'],
                backups.map((b) => [
                  b.id,
                  timeText(b.createdAt),
                  `v${b.schemaVersion}`,
                  b.dialect,
                  b.counts.messages ?? 0,
                  b.blobs,
                  megabytes(b.blobBytes),
                ]),
              ),
              ...damagedText,
            ].join('\n'),
      );
    },
  );

  action<[]>(
    backup
      .command('expire')
      .description('keep the newest N backups, remove the others and the contents only they needed')
      .requiredOption('--keep <n>', 'how many of the newest backups to keep', integerOption('--keep'))
      .option('--to <dir>', 'where backups go (default: <data dir>/backups/snapshots)'),
    async (options) => {
      const to = existingPlace(options.to);
      const result = await expireBackups(to, options.keep);
      print(options, result, () =>
        [
          `kept ${result.kept.length} backup(s), removed ${result.removed.length}${result.removed.length ? ` (${result.removed.join(', ')})` : ''}`,
          `removed ${result.blobsRemoved} content(s) no kept backup needs (${megabytes(result.bytesFreed)})`,
          ...(result.poolKept ? [result.poolKept] : []),
        ].join('\n'),
      );
    },
  );
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Progress on stderr for a person at a terminal; nothing with --json or when not a terminal. */
export function progress(json: boolean | undefined) {
  if (json || !process.stderr.isTTY) return undefined;
  // Rows and contents load at the same time: the line shows where each is.
  let table = '';
  let contents = '';
  return (p: { table?: string; rows?: number; blobs?: number; step?: string }) => {
    if (p.table) table = `${p.table}: ${p.rows ?? 0} rows`;
    if (p.blobs !== undefined) contents = `contents: ${p.blobs}`;
    const text = p.step ? `${p.step}…` : [table, contents].filter(Boolean).join(' · ');
    process.stderr.write(`\r\x1b[K${text}`);
  };
}

export function clearProgress(json: boolean | undefined) {
  if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

/** Where `list` and `expire` look: --to, which must exist (a mistyped one is not an empty place), or the default place. */
function existingPlace(given: string | undefined): string {
  const to = resolve(given ?? defaultBackupDir(loadConfig().dataDir));
  if (given && !existsSync(to)) throw notFound('no-backup-directory', `there is no directory ${to}`);
  return to;
}
