// Backups taken by the server itself ([backup] schedule): one node (the singleton "backup") looks
// every minute whether the last good backup is older than the schedule and, if so, runs
// `holdfast backup create`, then `backup verify` and `backup expire`, as child processes: a backup
// of SQLite reads the snapshot synchronously, which must not stop the thread serving the sessions,
// and a child that dies takes nothing of the server with it. Each run is recorded in backup_runs,
// where service health (the "Backup" component) and the metrics read when the last good one was.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { BackupSettings, Config } from '../config/schema.ts';
import { inInstallation } from '../installation-root.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../store/schema.ts';
import { backupRecord } from './backup-runs.ts';

/** How often the schedule looks whether a backup is due. */
export const backupCheckIntervalMs = 60_000;
/** After a failed run, the next try waits this long (or the schedule's period, if shorter). */
const retryAfterFailureMs = 60 * 60_000;

const holdfastBin = inInstallation('bin', 'holdfast.js');

export interface BackupScheduleDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'dataDir' | 'database' | 'configFile'> & { backup: BackupSettings };
  node: string;
  logger: Logger;
  now(): number;
}

interface CommandOutcome {
  ok: boolean;
  /** The command's --json output, when it printed one. */
  result?: Record<string, unknown>;
  error?: string;
}

export class BackupSchedule {
  private child?: ChildProcess;
  private stopped = false;

  constructor(private readonly deps: BackupScheduleDeps) {}

  /** One look: takes a backup if one is due. Runs under the singleton lease "backup". */
  async round(): Promise<void> {
    const { db, config, node, logger, now } = this.deps;
    const everyMs = config.backup.everyMs;
    if (everyMs === undefined || this.stopped) return;
    let { lastGood, last } = await backupRecord(db);
    // Only the holder of the lease runs backups: a run still marked running is one whose node died
    // (written only then: an idle minute costs reads, not a write).
    if (last?.state === 'running') {
      await db
        .updateTable('backup_runs')
        .set({ state: 'failed', finished_at: now(), error: 'the node running it stopped before it ended' })
        .where('state', '=', 'running')
        .execute();
      ({ lastGood, last } = await backupRecord(db));
    }
    const at = now();
    if (lastGood && lastGood.started_at + everyMs > at) return;
    if (last?.state === 'failed' && last.started_at + Math.min(everyMs, retryAfterFailureMs) > at) return;

    const id = randomUUID();
    await db
      .insertInto('backup_runs')
      .values({
        id,
        node,
        target: config.backup.to,
        started_at: at,
        finished_at: null,
        state: 'running',
        backup_id: null,
        bytes_written: null,
        contents: null,
        messages: null,
        error: null,
      })
      .execute();
    logger.info({ to: config.backup.to }, 'backup: scheduled backup started');
    const outcome = await this.backUp();
    await db
      .updateTable('backup_runs')
      .set({ ...outcome, finished_at: now() })
      .where('id', '=', id)
      .execute();
    if (outcome.state === 'verified')
      logger.info(
        { backup: outcome.backup_id, bytes: outcome.bytes_written, ms: now() - at },
        'backup: scheduled backup done',
      );
    else logger.warn({ backup: outcome.backup_id, error: outcome.error }, 'backup: scheduled backup failed');
  }

  /** Ends a backup in progress (the node stops): it leaves only a partial directory, never counted. */
  stop() {
    this.stopped = true;
    this.child?.kill('SIGTERM');
  }

  private async backUp() {
    const { to, verify, keep } = this.deps.config.backup;
    const created = await this.holdfast(['backup', 'create', '--to', to]);
    const summary = created.result as
      | { id?: string; dir?: string; bytesWritten?: number; blobs?: number; counts?: Record<string, number> }
      | undefined;
    const made = {
      backup_id: summary?.id ?? null,
      bytes_written: summary?.bytesWritten ?? null,
      contents: summary?.blobs ?? null,
      messages: summary?.counts?.messages ?? null,
    };
    if (!created.ok || !summary?.dir)
      return { ...made, state: 'failed' as const, error: created.error ?? 'backup create printed no summary' };
    if (verify) {
      const verified = await this.holdfast(['backup', 'verify', summary.dir]);
      if (!verified.ok)
        return {
          ...made,
          state: 'failed' as const,
          error: String(verified.result?.verdict ?? verified.error ?? 'backup verify failed'),
        };
    }
    // Expiring is housekeeping: a failure is logged, the backup itself is good.
    const expired = await this.holdfast(['backup', 'expire', '--to', to, '--keep', String(keep)]);
    if (!expired.ok) this.deps.logger.warn({ error: expired.error }, 'backup: expiring old backups failed');
    return { ...made, state: 'verified' as const, error: null };
  }

  /** Runs a holdfast command on this installation with --json. */
  private holdfast(args: string[]): Promise<CommandOutcome> {
    const { config } = this.deps;
    const database = config.database.kind === 'postgres' ? config.database.url : config.database.path;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [holdfastBin, ...args, '--json'], {
        env: {
          ...process.env,
          HOLDFAST_DATA_DIR: config.dataDir,
          HOLDFAST_DATABASE_URL: database,
          ...(config.configFile ? { HOLDFAST_CONFIG: config.configFile } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
      child.on('error', (error) => resolve({ ok: false, error: error.message }));
      child.on('close', (code, signal) => {
        this.child = undefined;
        const result = parseJson(stdout);
        const reported = typeof result?.error === 'object' ? (result.error as { message?: string }).message : undefined;
        resolve({
          ok: code === 0,
          result,
          error:
            code === 0
              ? undefined
              : (reported ??
                (lastLine(stderr) || `holdfast ${args[0]} ${args[1]} ended with ${signal ?? `status ${code}`}`)),
        });
      });
    });
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
