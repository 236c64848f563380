// A real Holdfast server process for benchmarks (the compiled program, as `npm start` runs it),
// loopback only, in a fresh installation: a temporary data directory and a store of its own (SQLite
// in that directory, or a new PostgreSQL database: bench-store.ts), removed after the measurement.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchStore, type BenchStore } from './bench-store.ts';
import { guarded } from './cleanup.ts';
import { type ProcessActivity, processCpuSeconds, processTree, treeActivity } from './process-cpu.ts';

const bin = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
/** SIGUSR2 makes the server collect garbage (for memory measurements). */
const gcOnSignal = fileURLToPath(new URL('./gc-on-signal.cjs', import.meta.url));

export interface HoldfastProcess {
  child: ChildProcess;
  port(name: string): number;
  /** Messages in a user's INBOX so far. */
  count(address: string): Promise<number>;
  /** The server's processes: the one started, and its workers with --workers. */
  pids(): number[];
  /** CPU time the server's processes have used so far (user + system, all their threads), in seconds. */
  cpuSeconds(): number;
  /** CPU split into user and system, system calls and context switches, of every process. */
  activity(): ProcessActivity;
  stop(): Promise<void>;
}

export function holdfastEnv(dataDir: string, extra: Record<string, string> = {}) {
  return {
    ...process.env,
    HOLDFAST_DATA_DIR: dataDir,
    HOLDFAST_HOSTNAME: 'holdfast-bench.localdomain',
    HOLDFAST_DOMAIN: 'bench.example',
    HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
    HOLDFAST_BIND: '127.0.0.1',
    HOLDFAST_SMTP_PORT: '0',
    HOLDFAST_SUBMISSION_PORT: 'off',
    HOLDFAST_SUBMISSIONS_PORT: 'off',
    HOLDFAST_IMAP_PORT: 'off',
    HOLDFAST_IMAPS_PORT: 'off',
    HOLDFAST_POP3_PORT: 'off',
    HOLDFAST_POP3S_PORT: 'off',
    HOLDFAST_HTTP_PORT: 'off',
    HOLDFAST_HTTPS_PORT: 'off',
    HOLDFAST_LOG_LEVEL: 'warn',
    HOLDFAST_LOG_FORMAT: 'json',
    ...extra,
  };
}

export interface StartOptions {
  /** `--workers`: a number or "auto"; 1 (the default) is one process. */
  workers?: string;
}

export interface Installation {
  dir: string;
  store: BenchStore;
  /** Runs a `holdfast` command on this installation. */
  cli(args: string[]): string;
  /**
   * Starts the server (`holdfast start --workers N` with `workers`); it is stopped with the
   * installation if the caller has not stopped it.
   */
  start(extra?: Record<string, string>, options?: StartOptions): Promise<HoldfastProcess>;
}

/**
 * A fresh installation for one measurement, on SQLite or (with a URL) a new PostgreSQL database;
 * its servers, directory and database are removed after `use`, however it ends.
 */
export async function withInstallation<T>(
  databaseUrl: string | undefined,
  use: (installation: Installation) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
  const servers: HoldfastProcess[] = [];
  let store: BenchStore | undefined;
  const remove = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await store?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  return guarded(remove, async () => {
    store = await createBenchStore(dir, databaseUrl);
    const env = store.env;
    const installation: Installation = {
      dir,
      store,
      cli: (args) => holdfastCli(dir, args, env),
      start: async (extra = {}, options = {}) => {
        const server = await startHoldfastProcess(dir, installation.store, { ...env, ...extra }, options);
        servers.push(server);
        return server;
      },
    };
    installation.cli(['init']);
    return use(installation);
  });
}

function holdfastCli(dataDir: string, args: string[], extra: Record<string, string>) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: holdfastEnv(dataDir, extra), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`holdfast ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function startHoldfastProcess(
  dataDir: string,
  store: BenchStore,
  extra: Record<string, string>,
  options: StartOptions,
): Promise<HoldfastProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.HOLDFAST_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
        '--expose-gc',
        '--require',
        gcOnSignal,
        bin,
        'start',
        '--json',
        ...(options.workers && options.workers !== '1' ? ['--workers', options.workers] : []),
      ],
      {
        env: holdfastEnv(dataDir, extra),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.on('exit', (code) => reject(new Error(`holdfast exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      const summary = JSON.parse(out.split('\n')[0]!);
      let stopped: Promise<void> | undefined;
      resolve({
        child,
        port: (name) => summary.listeners.find((l: { name: string }) => l.name === name).port,
        count: async (address) =>
          (
            await store.query<{ n: number }>(
              `select count(*) as n from messages m join mailboxes b on b.id = m.mailbox_id join principals p on p.id = b.principal_id where p.address = ? and b.name = 'INBOX'`,
              address,
            )
          )[0]!.n,
        pids: () => processTree(child.pid!),
        // Workers that died and were restarted take their CPU time with them (they should not die).
        cpuSeconds: () => processTree(child.pid!).reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
        activity: () => treeActivity(child.pid!),
        stop: () =>
          (stopped ??= new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          })),
      });
    });
  });
}
