// The processes a drill starts, each with its output in a log file, and how they end: one at a time
// by name (the failures the drill injects) or all of them at the end, whatever way the drill ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Started {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

export class Processes {
  private readonly running = new Map<string, Started>();
  private readonly logs: WriteStream[] = [];

  constructor(private readonly logDir: string) {}

  /**
   * Starts `command` in its own process group (so that what it starts ends with it). `user` runs it
   * as that account (PostgreSQL refuses to run as root): setpriv replaces itself with the command,
   * so the pid is the command's own.
   */
  start(
    name: string,
    command: string,
    args: string[],
    options: { env?: Record<string, string>; user?: string; cwd?: string } = {},
  ): Started {
    if (this.running.has(name)) throw new Error(`${name} is already running`);
    const log = join(this.logDir, `${name}.log`);
    const out = createWriteStream(log, { flags: 'a' });
    this.logs.push(out);
    const [file, argv] = options.user
      ? ['setpriv', ['--reuid', options.user, '--regid', options.user, '--init-groups', '--', command, ...args]]
      : [command, args];
    const child = spawn(file, argv, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    // 'exit', not 'close': PostgreSQL, started by Patroni in a session of its own, keeps Patroni's output
    // pipes open after Patroni is gone.
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started: Started = { name, child, log, exited };
    this.running.set(name, started);
    void exited.then(() => {
      if (this.running.get(name) === started) this.running.delete(name);
    });
    return started;
  }

  get(name: string): Started | undefined {
    return this.running.get(name);
  }

  /** Sends `signal` to the process group of `name` and waits for it to end (SIGKILL after `graceMs`). */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    const started = this.running.get(name);
    if (!started?.child.pid) return;
    signalGroup(started.child.pid, signal);
    const timer = setTimeout(() => signalGroup(started.child.pid!, 'SIGKILL'), graceMs);
    await started.exited;
    clearTimeout(timer);
    this.running.delete(name);
  }

  /** Ends everything still running, newest first (Holdfast before PostgreSQL before etcd). */
  async stopAll(graceMs = 10_000): Promise<void> {
    for (const name of [...this.running.keys()].reverse()) await this.stop(name, 'SIGTERM', graceMs).catch(() => {});
    for (const log of this.logs) log.end();
  }

  async tail(name: string, lines = 30): Promise<string> {
    const text = await readFile(join(this.logDir, `${name}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it gives a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(250);
  }
}
