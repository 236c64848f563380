// Peers for side-by-side benchmarks, from Debian's packages, each in its own temporary directory on
// loopback and non-standard ports, so they never touch a system-wide mail setup (nor need one: a
// Postfix installed with "No configuration" has no /etc/postfix/main.cf, and is not given one):
// Postfix (MTA) delivering over LMTP into Dovecot (mailbox store).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshPeerDir, requireTool, stopDaemon } from '../../test/helpers/daemon.ts';
import { type Dovecot, startDovecot as startSharedDovecot } from '../../test/helpers/dovecot.ts';
import { guarded, withStarted } from './cleanup.ts';
import { processCpuSeconds } from './process-cpu.ts';

export { freshPeerDir, requireTool };
export type { Dovecot };

/**
 * Dovecot and Postfix delivering to it over LMTP, from a fresh `dir`; both stopped and the directory
 * removed after `use`, however it ends.
 */
export async function withMailPeers<T>(
  dir: string,
  options: { domain: string; smtpPort: number; lmtpPort: number; imapPort: number; extraMain?: string },
  use: (peers: { postfix: Postfix; dovecot: Dovecot }) => Promise<T>,
): Promise<T> {
  freshPeerDir(dir);
  return guarded(
    () => rmSync(dir, { recursive: true, force: true }),
    () =>
      withStarted(
        () => startDovecot(join(dir, 'dovecot'), options.lmtpPort, options.imapPort),
        (dovecot) => dovecot.stop(),
        (dovecot) =>
          withStarted(
            () =>
              startPostfix(join(dir, 'postfix'), options.smtpPort, options.domain, options.lmtpPort, options.extraMain),
            (postfix) => postfix.stop(),
            (postfix) => use({ postfix, dovecot }),
          ),
      ),
  );
}

const uidOf = (user: string) => Number(execFileSync('id', ['-u', user]).toString().trim());
const gidOf = (user: string) => Number(execFileSync('id', ['-g', user]).toString().trim());

/**
 * Dovecot from `dir` (test/helpers/dovecot.ts): any user name, password "bench", LMTP and IMAP (no
 * TLS) on these ports, limits raised for thousands of connections. The directory is left for its
 * owner to remove.
 */
export function startDovecot(dir: string, lmtpPort: number, imapPort: number): Promise<Dovecot> {
  return startSharedDovecot({
    dir,
    password: 'bench',
    lmtpPort,
    imapPort,
    extraConfig: `service imap {
  process_limit = 2000
}
default_client_limit = 4000
protocol imap {
  mail_max_userip_connections = 2000
}
`,
  });
}

export interface Postfix {
  port: number;
  /** Messages in the queue (incoming, active, deferred). */
  queued(): number;
  deferred(): number;
  /** postqueue -f: attempt every queued message now. */
  flush(): void;
  stop(): void;
}

function countFiles(path: string): number {
  if (!existsSync(path)) return 0;
  let n = 0;
  for (const entry of readdirSync(path, { withFileTypes: true }))
    n += entry.isDirectory() ? countFiles(join(path, entry.name)) : 1;
  return n;
}

/**
 * Postfix accepting mail for `domain` on 127.0.0.1:<port> and handing it to Dovecot over LMTP, as a
 * second instance with its own configuration directory (`postfix -c`). Run as root, Postfix needs
 * nothing from /etc/postfix/main.cf (absent after a "No configuration" install); master.cf is
 * copied from the package.
 */
export function startPostfix(dir: string, port: number, domain: string, lmtpPort: number, extraMain = ''): Postfix {
  requireTool('/usr/sbin/postfix', 'postfix');
  const etc = join(dir, 'etc');
  for (const sub of ['etc', 'spool', 'data']) mkdirSync(join(dir, sub), { recursive: true });
  chownSync(join(dir, 'data'), uidOf('postfix'), gidOf('postfix'));
  const masterSource = ['/etc/postfix/master.cf', '/usr/share/postfix/master.cf.dist'].find(existsSync);
  if (!masterSource)
    throw new Error('no master.cf in /etc/postfix or /usr/share/postfix: reinstall the postfix package');
  const master = readFileSync(masterSource, 'utf8').replace(
    /^smtp\s+inet\s+.*$/m,
    `127.0.0.1:${port} inet n - n - - smtpd`,
  );
  writeFileSync(join(etc, 'master.cf'), master);
  writeFileSync(
    join(etc, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${dir}/spool
data_directory = ${dir}/data
myhostname = postfix-bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = ${domain}
virtual_transport = lmtp:inet:127.0.0.1:${lmtpPort}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
smtp_dns_support_level = disabled
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
${extraMain}`,
  );
  for (const command of ['check', 'start']) {
    const result = spawnSync('/usr/sbin/postfix', ['-c', etc, command], { stdio: 'ignore' });
    if (result.status !== 0)
      throw new Error(
        `postfix ${command} failed (exit ${result.status}); for the reason run: script -qc "postfix -c ${etc} ${command}" /dev/null`,
      );
  }
  const spool = join(dir, 'spool');
  return {
    port,
    queued: () => ['incoming', 'active', 'deferred', 'maildrop'].reduce((n, q) => n + countFiles(join(spool, q)), 0),
    deferred: () => countFiles(join(spool, 'deferred')),
    flush: () => void spawnSync('/usr/sbin/postqueue', ['-c', etc, '-f'], { stdio: 'ignore' }),
    stop: () => stopDaemon(join(spool, 'pid', 'master.pid'), '/usr/sbin/postfix', ['-c', etc, 'stop']),
  };
}

/** Postfix's smtp-sink: a fast SMTP server that accepts and discards everything. */
export function startSmtpSink(port: number) {
  requireTool('/usr/sbin/smtp-sink', 'postfix');
  const child = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
  return { stop: () => child.kill(), cpuSeconds: () => processCpuSeconds(child.pid!) };
}
