// The reference server: Debian's Dovecot, started for one run on loopback from a directory of its
// own. Unlike the benchmarks' Dovecot (bench/lib/peers.ts) it is shaped like a Holdfast mailbox, so
// that replies can be compared line by line: "/" as the hierarchy delimiter, and Drafts, Sent, Trash,
// Junk and Archive with their special uses, existing and subscribed from the start, INBOX subscribed.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { guarded, withStarted } from '../../bench/lib/cleanup.ts';
import { freshPeerDir, requireTool } from '../../bench/lib/peers.ts';

/** Every user logs in with this password. */
export const dovecotPassword = 'conformance';

const specialUse = ['Drafts', 'Sent', 'Trash', 'Junk', 'Archive'];

function config(dir: string, port: number) {
  const mailboxes = specialUse
    .map((name) => `  mailbox ${name} {\n    auto = subscribe\n    special_use = \\${name}\n  }`)
    .join('\n');
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
log_path = ${dir}/dovecot.log
mail_location = maildir:${dir}/mail/%n:LAYOUT=fs
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
auth_username_format = %n
passdb {
  driver = static
  args = password=${dovecotPassword}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%n
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox INBOX {
    auto = subscribe
  }
${mailboxes}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
`;
}

/** A port nothing listens on at the moment, for a peer that cannot be told to pick one itself. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs `use` against a fresh Dovecot on 127.0.0.1 (a free port, a directory of this run's own, so
 * that two runs at once do not meet); stopped and removed after, however it ends.
 */
export async function withReferenceDovecot<T>(use: (port: number) => Promise<T>): Promise<T> {
  requireTool('/usr/sbin/dovecot', 'dovecot-imapd');
  const port = await unusedPort();
  // Dovecot's mail user (nobody) must be able to enter the directory: not a private mkdtemp one.
  const dir = join(tmpdir(), `holdfast-conformance-dovecot-${process.pid}`);
  freshPeerDir(dir);
  const conf = join(dir, 'dovecot.conf');
  return guarded(
    () => rmSync(dir, { recursive: true, force: true }),
    () =>
      withStarted(
        () => {
          for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
          chownSync(
            join(dir, 'mail'),
            Number(spawnSync('id', ['-u', 'nobody']).stdout.toString()),
            Number(spawnSync('id', ['-g', 'nobody']).stdout.toString()),
          );
          writeFileSync(conf, config(dir, port));
          // The daemon keeps inherited pipes open: give it none, and read its log if it fails.
          const started = spawnSync('/usr/sbin/dovecot', ['-c', conf], {
            stdio: 'ignore',
            env: { ...process.env, TZ: 'UTC' },
          });
          if (started.status !== 0)
            throw new Error(`dovecot did not start (exit ${started.status}); see ${dir}/dovecot.log`);
        },
        () => spawnSync('/usr/bin/doveadm', ['-c', conf, 'stop'], { stdio: 'ignore' }),
        async () => {
          await new Promise((r) => setTimeout(r, 500));
          return use(port);
        },
      ),
  );
}
