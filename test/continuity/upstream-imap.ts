// The upstream provider's IMAP side for continuity tests: Debian's Dovecot on loopback from a
// temporary directory (as test/import/dovecot-source.ts and bench/lib/peers.ts start one), implicit
// TLS with a self-signed certificate, one password for every user, a master user `holdfast` (who may
// sign in as anyone: SASL PLAIN with the user as authorization identity, or "user*holdfast"), and
// the Sent folder under Exchange's name "Sent Items", marked \Sent.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export const dovecotInstalled = existsSync('/usr/sbin/dovecot');

export interface UpstreamImap {
  imapsPort: number;
  /** Every user's own password. */
  password: string;
  masterUser: string;
  masterPassword: string;
  /** Message-IDs in a user's folder (Maildir++: "Sent Items" is ".Sent Items"). */
  messageIds(user: string, folder: string): string[];
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startUpstreamImap(): Promise<UpstreamImap> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-continuity-dovecot-'));
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
  chownSync(join(dir, 'mail'), 65534, 65534);
  const pems = selfsigned.generate([{ name: 'commonName', value: 'imap.upstream.test' }], { days: 2, keySize: 2048 });
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
  const imapsPort = await freePort();
  const password = 'upstream-User-58';
  const masterUser = 'holdfast';
  const masterPassword = 'upstream-Master-93';
  writeFileSync(join(dir, 'master-users'), `${masterUser}:{PLAIN}${masterPassword}\n`);
  chmodSync(join(dir, 'master-users'), 0o644); // Dovecot's auth process reads it, whatever the umask
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
auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = ${dir}/master-users
  master = yes
}
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
  mailbox "Sent Items" {
    special_use = \\Sent
    auto = create
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imapsPort}
  }
}
`,
  );
  const started = spawnSync('/usr/sbin/dovecot', ['-c', conf], { stdio: 'ignore' });
  if (started.status !== 0) {
    const log = existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`dovecot did not start (exit ${started.status}): ${log}`);
  }
  return {
    imapsPort,
    password,
    masterUser,
    masterPassword,
    messageIds(user, folder) {
      const ids: string[] = [];
      for (const sub of ['new', 'cur']) {
        const path = join(dir, 'mail', user, `.${folder}`, sub);
        if (!existsSync(path)) continue;
        for (const file of readdirSync(path)) {
          const head = readFileSync(join(path, file), 'latin1').split(/\r?\n\r?\n/, 1)[0]!;
          ids.push(/^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? `none:${file}`);
        }
      }
      return ids.sort();
    },
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
