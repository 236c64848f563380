// A real Holdfast server process for benchmarks (the compiled program, as `npm start` runs it),
// on an SQLite store in a temporary data directory, loopback only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
/** SIGUSR2 makes the server collect garbage (for memory measurements). */
const gcOnSignal = fileURLToPath(new URL('./gc-on-signal.cjs', import.meta.url));

export interface HoldfastProcess {
  child: ChildProcess;
  port(name: string): number;
  /** Messages in a user's INBOX so far. */
  count(address: string): number;
  /** CPU time the server process has used so far (user + system, all its threads), in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** utime + stime of a process, from /proc (Linux; in clock ticks of 1/100 s). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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

export function holdfastCli(dataDir: string, args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: holdfastEnv(dataDir), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`holdfast ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

export function startHoldfastProcess(dataDir: string, extra: Record<string, string> = {}): Promise<HoldfastProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(process.env.HOLDFAST_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--expose-gc', '--require', gcOnSignal, bin, 'start', '--json'], {
      env: holdfastEnv(dataDir, extra),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.on('exit', (code) => reject(new Error(`holdfast exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      const summary = JSON.parse(out.split('\n')[0]!);
      const db = new SqliteDatabase(join(dataDir, 'holdfast.sqlite'), { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      const countQuery = db.prepare(
        `select count(*) as n from messages m join mailboxes b on b.id = m.mailbox_id join principals p on p.id = b.principal_id where p.address = ? and b.name = 'INBOX'`,
      );
      resolve({
        child,
        port: (name) => summary.listeners.find((l: { name: string }) => l.name === name).port,
        count: (address) => (countQuery.get(address) as { n: number }).n,
        cpuSeconds: () => processCpuSeconds(child.pid!),
        stop: () =>
          new Promise((done) => {
            db.close();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
