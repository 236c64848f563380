// Checkpoints of the SQLite WAL, run in a worker thread instead of inside the server's commits.
//
// By default SQLite checkpoints when a commit finds the WAL over 1,000 pages: that commit copies the
// pages into the database file and fsyncs it, on the thread that serves every session (better-sqlite3
// is synchronous). Under load that was one commit in thirty taking ~7 ms (bench/imap, session 7). Here
// a worker with its own connection checkpoints once a second, and the server's
// connection keeps SQLite's own checkpoint only as a backstop (at 20,000 pages, should the worker fall
// behind). A checkpoint copies each page once however often it was rewritten since the last one, so
// fewer, larger checkpoints also copy less.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/**
 * The worker: its own connection to the file, checkpointing when asked. With synchronous=FULL the WAL
 * is synced before pages are copied and the database file after — the order that lets the next writer
 * safely reuse the WAL from its start. It never writes pages of its own, and never checkpoints on
 * close (the server's connection, closed last, does the final one).
 *
 * Plain JavaScript run with `eval`, so that the same code runs from the TypeScript sources (tests,
 * benchmarks) and from the build; the driver is passed by its resolved path, since an evaluated
 * worker resolves modules from the working directory.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const SqliteDatabase = require(workerData.driver);
const sqlite = new SqliteDatabase(workerData.path);
sqlite.pragma('busy_timeout = 5000');
sqlite.pragma('synchronous = FULL');
sqlite.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (message) => {
  if (message === 'stop') {
    sqlite.close();
    parentPort.close();
    return;
  }
  try {
    sqlite.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({});
  } catch (error) {
    parentPort.postMessage({ error: String(error) });
  }
});
`;

/** Pages the server's own connection lets the WAL reach before it checkpoints itself. */
export const backstopPages = 20_000;

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private busy = false;
  private stopped: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  /**
   * @param onLost called if the worker ends on its own (it failed): the caller checkpoints itself again.
   */
  constructor(
    path: string,
    private readonly onError: (error: string) => void = () => {},
    onLost: () => void = () => {},
    intervalMs = 1000,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(workerSource, { eval: true, workerData: { path, driver } });
    this.worker.unref();
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        if (!this.stopped) {
          clearInterval(this.timer);
          this.onError('the checkpoint worker stopped; commits checkpoint the WAL themselves again');
          onLost();
        }
        resolve();
      }),
    );
    this.worker.on('message', (message: { error?: string }) => {
      this.busy = false;
      if (message.error) this.onError(message.error);
    });
    this.worker.on('error', (error) => this.onError(String(error)));
    this.timer = setInterval(() => this.checkpoint(), intervalMs);
    this.timer.unref();
  }

  /** A checkpoint with nothing to copy only reads the WAL index: cheap enough to run every tick. */
  private checkpoint() {
    if (this.busy || this.stopped) return;
    this.busy = true;
    this.worker.postMessage('checkpoint');
  }

  /** Stops the worker once its checkpoint (if one runs) is done; the caller then closes its own connection. */
  stop(): Promise<void> {
    if (!this.stopped) {
      clearInterval(this.timer);
      this.worker.ref(); // the caller waits for the exit
      this.worker.postMessage('stop');
      this.stopped = this.exited;
    }
    return this.stopped;
  }
}

/** Hands the checkpoints of this connection to a worker thread (back to its commits if the worker fails). */
export function checkpointInBackground(
  sqlite: SqliteDatabase.Database,
  path: string,
  onError?: (error: string) => void,
): WalCheckpointer {
  const ownThreshold = sqlite.pragma('wal_autocheckpoint', { simple: true });
  sqlite.pragma(`wal_autocheckpoint = ${backstopPages}`);
  return new WalCheckpointer(path, onError, () => sqlite.pragma(`wal_autocheckpoint = ${ownThreshold}`));
}
