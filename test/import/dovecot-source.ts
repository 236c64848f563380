// A private Dovecot on loopback as the source of IMAP imports: Debian's dovecot-imapd, run from a
// temporary directory with its own configuration (as bench/lib/peers.ts starts one for the
// benchmarks), with TLS from a self-signed certificate on both an imap (STARTTLS) and an imaps
// port, one password for every user, Maildir++ storage with "." as the hierarchy separator, and
// special-use folders under names that are not Holdfast's ("Sent Messages", "Deleted Messages").
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface DovecotSource {
  imapPort: number;
  imapsPort: number;
  password: string;
  /** Where user `name`'s Maildir is. */
  maildirOf(user: string): string;
  stop(): void;
}

export const dovecotInstalled = existsSync('/usr/sbin/dovecot');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startDovecotSource(): Promise<DovecotSource> {
  // Dovecot's mail user (nobody) must be able to enter the directory.
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-import-dovecot-'));
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
  chownSync(join(dir, 'mail'), 65534, 65534);
  const pems = selfsigned.generate([{ name: 'commonName', value: 'dovecot.test' }], { days: 2, keySize: 2048 });
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
  const imapPort = await freePort();
  const imapsPort = await freePort();
  const password = 'source-Secret-42';
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <${dir}/cert.pem
ssl_key = <${dir}/key.pem
log_path = ${dir}/dovecot.log
mail_location = maildir:${dir}/mail/%n
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
auth_username_format = %n
passdb {
  driver = static
  args = password=${password}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%n
}
namespace inbox {
  inbox = yes
  separator = .
  mailbox "Sent Messages" {
    special_use = \\Sent
    auto = create
  }
  mailbox "Deleted Messages" {
    special_use = \\Trash
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox "All Mail" {
    special_use = \\All
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imapsPort}
  }
}
`,
  );
  // The daemon keeps inherited pipes open: give it none, and read its log if it fails.
  const started = spawnSync('/usr/sbin/dovecot', ['-c', conf], { stdio: 'ignore' });
  if (started.status !== 0) {
    const log = existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`dovecot did not start (exit ${started.status}): ${log}`);
  }
  return {
    imapPort,
    imapsPort,
    password,
    maildirOf: (user) => join(dir, 'mail', user),
    stop() {
      const pidFile = join(dir, 'run', 'master.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      spawnSync('/usr/bin/doveadm', ['-c', conf, 'stop'], { stdio: 'ignore' });
      for (let i = 0; i < 50 && pid && existsSync(`/proc/${pid}`); i++) spawnSync('sleep', ['0.1']);
      if (pid && existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
