// Daemons from Debian's packages (Dovecot, Postfix) run by tests, conformance runs, drills and
// benchmarks from a directory of their own: the tool check, stopping one and waiting until its ports
// are free, and emptying a directory an earlier, killed run may have left a daemon running from.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export function requireTool(path: string, pkg: string) {
  if (!existsSync(path)) throw new Error(`${path} is missing: install it with "apt-get install -y ${pkg}"`);
}

/** Where each peer's daemon writes its pid, relative to the directory it runs from. */
const pidFiles = ['run/master.pid', 'dovecot/run/master.pid', 'spool/pid/master.pid', 'postfix/spool/pid/master.pid'];

/**
 * Empties a peer's directory for a new run. A run that was killed (SIGKILL, a crash) may have left its
 * daemons running from there, holding the fixed ports: they are stopped first, by the pids they wrote.
 */
export function freshPeerDir(dir: string) {
  for (const file of pidFiles.map((f) => join(dir, f))) {
    const pid = runningMaster(file);
    if (!pid) continue;
    process.stderr.write(`bench: stopping a daemon (pid ${pid}) left running by an earlier run in ${dir}\n`);
    process.kill(pid, 'SIGTERM');
    if (!exited(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** The pid in a Dovecot or Postfix pid file, if that process is still a Dovecot or Postfix master (pids get reused). */
function runningMaster(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const comm = `/proc/${pid}/comm`;
  const name = pid > 0 && existsSync(comm) ? readFileSync(comm, 'utf8').trim() : '';
  return name === 'dovecot' || name === 'master' ? pid : undefined;
}

/** Waits up to 5 s for a process to end; whether it did. */
function exited(pid: number): boolean {
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) spawnSync('sleep', ['0.1']);
  return !existsSync(`/proc/${pid}`);
}

/** Stops a daemon with its own command, and waits until its master process has gone (its ports are free). */
export function stopDaemon(pidFile: string, command: string, args: string[]) {
  const pid = runningMaster(pidFile);
  spawnSync(command, args, { stdio: 'ignore' });
  if (pid && !exited(pid)) process.kill(pid, 'SIGKILL');
}
