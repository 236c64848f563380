// Runs the real `holdfast` command as a user would, in its own process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BackendName, createBackend, type TestBackend } from './backends.ts';

export const holdfastBin = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runHoldfast(
  args: string[],
  options: { env: Record<string, string>; input?: string; cwd?: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [holdfastBin, ...args], {
      env: { ...process.env, HOLDFAST_LOG_FORMAT: 'json', ...options.env },
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * `holdfast …` on one installation (its environment read at each call, so it may be set up in a
 * `before`): `holdfast` returns the result, `json` adds --json, requires success and parses stdout.
 */
export function cliOn(env: () => Record<string, string>) {
  const holdfast = (...args: string[]) => runHoldfast(args, { env: env() });
  const json = async (...args: string[]) => {
    const result = await holdfast(...args, '--json');
    assert.equal(result.code, 0, `holdfast ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  return { holdfast, json };
}

/** Sets up a new installation (`holdfast init`), as an administrator does before any other command. */
export async function initHoldfast(env: Record<string, string>): Promise<void> {
  const result = await runHoldfast(['init', '--json'], { env });
  if (result.code !== 0) throw new Error(`holdfast init failed:\n${result.stdout}${result.stderr}`);
}

/** The bootstrap administrator's password in the installations cliInstallation sets up. */
const cliAdminPassword = 'Keep-Mail-Flowing-42';

/**
 * A new installation for the CLI tests of one describe block: its store on the backend and `holdfast
 * init` for `domain` before the tests (hooks registered here, so a later `before` may add to it),
 * removed after them. `holdfast` and `json` as cliOn gives them; `backend` once set up.
 */
export function cliInstallation(backendName: BackendName, domain: string) {
  let backend: TestBackend | undefined;
  let env: Record<string, string> = {};
  before(async () => {
    backend = await createBackend(backendName);
    env = {
      HOLDFAST_DATA_DIR: backend.dataDir,
      HOLDFAST_DATABASE_URL: backend.databaseUrl,
      HOLDFAST_DOMAIN: domain,
      HOLDFAST_ADMIN_PASSWORD: cliAdminPassword,
    };
    await initHoldfast(env);
  });
  after(() => backend?.cleanup());
  return { ...cliOn(() => env), backend: () => backend! };
}

export interface StartedServer {
  child: ChildProcess;
  summary: {
    listeners: { name: string; host: string; port: number }[];
    bootstrap: { created: boolean; adminAddress?: string; generatedPassword?: string };
    [key: string]: unknown;
  };
  port(name: string): number;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `holdfast start --json` and waits for its start-up summary (or its failure). */
export function startHoldfast(env: Record<string, string>, args: string[] = []): Promise<StartedServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [holdfastBin, 'start', '--json', ...args], {
      env: { ...process.env, HOLDFAST_LOG_FORMAT: 'json', ...env },
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line || !stdout.includes('\n')) return;
      const summary = JSON.parse(line);
      if (summary.error) return reject(new Error(summary.error.message));
      resolve({
        child,
        summary,
        port: (name) => summary.listeners.find((l: { name: string }) => l.name === name)!.port,
        stderr: () => stderr,
        stop: (signal = 'SIGTERM') => {
          child.kill(signal);
          return exited;
        },
      });
    });
    exited.then((code) =>
      reject(new Error(`holdfast start exited with ${code} before starting:\n${stdout}\n${stderr}`)),
    );
  });
}

/** Environment for a server that uses only free loopback ports. */
export function loopbackEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOLDFAST_DATA_DIR: dataDir,
    HOLDFAST_HOSTNAME: 'mail.test.example',
    // Probe rounds send mail and add the probe tenant: only the service health tests turn them on.
    HOLDFAST_HEALTH: 'false',
    HOLDFAST_DOMAIN: 'test.example',
    HOLDFAST_BIND: '127.0.0.1',
    HOLDFAST_SMTP_PORT: '0',
    HOLDFAST_SUBMISSION_PORT: '0',
    HOLDFAST_SUBMISSIONS_PORT: '0',
    HOLDFAST_IMAP_PORT: '0',
    HOLDFAST_IMAPS_PORT: '0',
    HOLDFAST_POP3_PORT: '0',
    HOLDFAST_POP3S_PORT: '0',
    HOLDFAST_HTTP_PORT: '0',
    HOLDFAST_HTTPS_PORT: '0',
    HOLDFAST_MANAGESIEVE_PORT: '0',
    ...extra,
  };
}
