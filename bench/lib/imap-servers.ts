// The two IMAP servers the IMAP benchmarks compare, each started for one measurement and removed
// after it: Dovecot from Debian, and Holdfast as `npm start` runs it, with IMAP on a free port.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdfastCli, startHoldfastProcess, type HoldfastProcess } from './holdfast-process.ts';
import { startDovecot } from './peers.ts';

/** Runs `measure` against a fresh Dovecot (any user name, password "bench") on 127.0.0.1:imapPort. */
export async function withDovecot<T>(ports: { lmtp: number; imap: number }, measure: (imapPort: number) => Promise<T>): Promise<T> {
  // Dovecot's mail user (nobody) must be able to enter the directory: not a private mkdtemp one.
  const dir = join(tmpdir(), 'holdfast-bench-peers');
  rmSync(dir, { recursive: true, force: true });
  const dovecot = startDovecot(dir, ports.lmtp, ports.imap);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    return await measure(dovecot.imapPort);
  } finally {
    dovecot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `measure` against a fresh Holdfast with these users (one password) and extra [imap] settings. */
export async function withHoldfastImap<T>(options: { users: string[]; password: string; imapSettings?: string }, measure: (server: HoldfastProcess) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
  try {
    writeFileSync(join(dir, 'holdfast.toml'), `[imap]\nplaintext_login = true\n${options.imapSettings ?? ''}`);
    for (const user of options.users) holdfastCli(dir, ['user', 'add', user, '--password', options.password]);
    const server = await startHoldfastProcess(dir, { HOLDFAST_CONFIG: join(dir, 'holdfast.toml'), HOLDFAST_IMAP_PORT: '0' });
    try {
      return await measure(server);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
