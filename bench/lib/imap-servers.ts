// The two IMAP servers the IMAP benchmarks compare, each started for one measurement and removed
// after it: Dovecot from Debian, and Holdfast as `npm start` runs it, with IMAP on a free port.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guarded, withStarted } from './cleanup.ts';
import { withInstallation, type HoldfastProcess } from './holdfast-process.ts';
import { freshPeerDir, startDovecot } from './peers.ts';

/** Runs `measure` against a fresh Dovecot (any user name, password "bench") on 127.0.0.1:imapPort. */
export async function withDovecot<T>(
  ports: { lmtp: number; imap: number },
  measure: (imapPort: number) => Promise<T>,
): Promise<T> {
  // Dovecot's mail user (nobody) must be able to enter the directory: not a private mkdtemp one.
  const dir = join(tmpdir(), 'holdfast-bench-peers');
  freshPeerDir(dir);
  return guarded(
    () => rmSync(dir, { recursive: true, force: true }),
    () =>
      withStarted(
        () => startDovecot(dir, ports.lmtp, ports.imap),
        (dovecot) => dovecot.stop(),
        async (dovecot) => {
          await new Promise((r) => setTimeout(r, 1000));
          return measure(dovecot.imapPort);
        },
      ),
  );
}

/**
 * Runs `measure` against a fresh Holdfast with these users (one password) and extra [imap] settings,
 * on SQLite or on a new PostgreSQL database on the server at `databaseUrl`.
 */
export async function withHoldfastImap<T>(
  options: { users: string[]; password: string; imapSettings?: string; databaseUrl?: string; workers?: string },
  measure: (server: HoldfastProcess) => Promise<T>,
): Promise<T> {
  return withInstallation(options.databaseUrl, async (installation) => {
    const config = join(installation.dir, 'holdfast.toml');
    writeFileSync(config, `[imap]\nplaintext_login = true\n${options.imapSettings ?? ''}`);
    for (const user of options.users) installation.cli(['user', 'add', user, '--password', options.password]);
    return measure(
      await installation.start({ HOLDFAST_CONFIG: config, HOLDFAST_IMAP_PORT: '0' }, { workers: options.workers }),
    );
  });
}
