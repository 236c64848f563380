// Peers for side-by-side benchmarks, from Debian's packages, each in its own temporary directory on
// loopback and non-standard ports, so they never touch a system-wide mail setup (nor need one: a
// Postfix installed with "No configuration" has no /etc/postfix/main.cf, and is not given one):
// Postfix (MTA) delivering over LMTP into Dovecot (mailbox store).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guarded, withStarted } from './cleanup.ts';

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
function stopDaemon(pidFile: string, command: string, args: string[]) {
  const pid = runningMaster(pidFile);
  spawnSync(command, args, { stdio: 'ignore' });
  if (pid && !exited(pid)) process.kill(pid, 'SIGKILL');
}

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

export interface Dovecot {
  lmtpPort: number;
  imapPort: number;
  /** Messages delivered to a user's INBOX so far. */
  count(user: string): number;
  stop(): void;
}

export function startDovecot(dir: string, lmtpPort: number, imapPort: number): Dovecot {
  requireTool('/usr/sbin/dovecot', 'dovecot-imapd dovecot-lmtpd');
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
  chownSync(join(dir, 'mail'), uidOf('nobody'), gidOf('nobody'));
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = lmtp imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
log_path = ${dir}/dovecot.log
mail_location = maildir:${dir}/mail/%n
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
auth_username_format = %n
passdb {
  driver = static
  args = password=bench
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = 2000
}
default_client_limit = 4000
protocol imap {
  mail_max_userip_connections = 2000
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
`,
  );
  // The daemon keeps inherited pipes open: give it none, and read its log if it fails.
  const started = spawnSync('/usr/sbin/dovecot', ['-c', conf], { stdio: 'ignore' });
  if (started.status !== 0) throw new Error(`dovecot did not start (exit ${started.status}); see ${dir}/dovecot.log`);
  return {
    lmtpPort,
    imapPort,
    count(user) {
      let n = 0;
      for (const sub of ['new', 'cur']) {
        const path = join(dir, 'mail', user, sub);
        if (existsSync(path)) n += readdirSync(path).length;
      }
      return n;
    },
    stop: () => stopDaemon(join(dir, 'run', 'master.pid'), '/usr/bin/doveadm', ['-c', conf, 'stop']),
  };
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
  return { stop: () => child.kill() };
}
