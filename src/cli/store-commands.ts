// holdfast store copy — the installation's store copied into another, empty one (SQLite to
// PostgreSQL and back) while the server serves, and caught up with the server stopped: the way to
// move an installation between backends (docs/operations.md, "Backups").
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { copyStore } from '../backup/copy-store.ts';
import { listNodes } from '../cluster/node-registry.ts';
import { conflict, invalid } from '../errors.ts';
import type { StoreLocation } from '../store/database.ts';
import { clearProgress, progress } from './backup-commands.ts';
import { action, withDirectory } from './context.ts';
import { print } from './output.ts';

export function registerStoreCommands(program: Command) {
  const store = program.command('store').description('the store itself: copy it into another database');

  action<[]>(
    store
      .command('copy')
      .description('copy the store into an empty PostgreSQL database or SQLite file, while the server runs')
      .requiredOption('--to <target>', 'postgres://user@host/database, or the path of a new SQLite file')
      .option(
        '--catch-up',
        'with Holdfast stopped: load the rows again into the earlier copy, keeping the contents it has',
      ),
    (options) =>
      withDirectory(async ({ store: source }) => {
        const target = targetOf(options.to);
        const running = (await listNodes(source.db, Date.now())).filter((n) => n.state === 'running');
        if (options.catchUp && running.length > 0)
          throw conflict(
            'source-serving',
            `--catch-up needs Holdfast stopped, but ${running.map((n) => `node ${n.id} (${n.host}, pid ${n.pid})`).join(', ')} is running: stop it first, then catch up`,
          );
        const summary = await copyStore(source, target, {
          catchUp: options.catchUp,
          // A copy taken while clients are served may be older than what they will have seen by
          // the switch: if it is switched to without a catch-up, its clients resync.
          renewIdentities: running.length > 0,
          onProgress: progress(options.json),
        });
        clearProgress(options.json);
        print(options, { ...summary, nodesServing: running.length }, () =>
          [
            `${summary.catchUp ? 'caught up' : 'copied'} ${summary.source} to ${summary.target} in ${(summary.durationMs / 1000).toFixed(1)} s`,
            `  ${Object.values(summary.counts).reduce((a, b) => a + b, 0)} rows, ${summary.counts.messages ?? 0} messages, ${summary.contents} contents${summary.contentsKept ? ` (${summary.contentsKept} were there already)` : ''}`,
            ...(summary.missingContents
              ? [`  warning: ${summary.missingContents} content(s) the store refers to were missing in it`]
              : []),
            running.length > 0
              ? `  copied while Holdfast serves: to switch, stop Holdfast, run this again with --catch-up, ${switchTo(target)}, start`
              : `  to switch: ${switchTo(target)} and start Holdfast`,
          ].join('\n'),
        );
      }),
  );
}

/** A PostgreSQL URL, or the path of an SQLite file (its content files go beside it, in blobs/). */
function targetOf(to: string): { location: StoreLocation; dataDir: string } {
  if (/^postgres(ql)?:\/\//.test(to)) return { location: { kind: 'postgres', url: to }, dataDir: '' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to))
    throw invalid(
      'bad-copy-target',
      `--to ${to}: not a target; give a postgres:// URL or the path of a new SQLite file`,
    );
  const path = resolve(to);
  return { location: { kind: 'sqlite', path }, dataDir: dirname(path) };
}

/**
 * What the administrator sets to run on the copy: the database URL for PostgreSQL; for SQLite the
 * data directory, since its content files are beside the database (and the commands must agree).
 */
function switchTo(target: { location: StoreLocation; dataDir: string }): string {
  return target.location.kind === 'postgres'
    ? `set database_url in holdfast.toml (or HOLDFAST_DATABASE_URL for every command and the server) to ${target.location.url}`
    : basename(target.location.path) === 'holdfast.sqlite'
      ? `set data_dir in holdfast.toml (or HOLDFAST_DATA_DIR) to ${target.dataDir}, with no database_url`
      : `set data_dir in holdfast.toml (or HOLDFAST_DATA_DIR) to ${target.dataDir} and database_url to ${target.location.path}`;
}
