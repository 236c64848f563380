// Debian's Dovecot on loopback for tests, the IMAP conformance run, drills and benchmarks: one daemon
// per caller, run as root from a directory of its own (its configuration, runtime files, log and the
// users' Maildirs), so it never touches a system-wide mail setup (nor needs one). Any user name is a
// user and signs in with the one password; optionally a master user who may sign in as anyone, TLS
// from a self-signed certificate, LMTP, the inbox namespace's folders. The callers shape it:
// test/import/dovecot-source.ts, test/continuity/upstream-imap.ts, conformance/imap/dovecot.ts and
// bench/lib/peers.ts (the benchmarks' and drill/continuity.ts's mailbox store behind Postfix).
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
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { requireTool, stopDaemon } from './daemon.ts';

const dovecotBinary = '/usr/sbin/dovecot';
const lmtpBinary = '/usr/lib/dovecot/lmtp';

export const dovecotInstalled = existsSync(dovecotBinary);

/** Why a test that needs Dovecot is skipped (`it(..., { skip: noDovecot })`), or false when it is installed. */
export const noDovecot: string | false = dovecotInstalled
  ? false
  : 'Dovecot is not installed (apt-get install dovecot-imapd)';

export interface DovecotMailbox {
  name: string;
  /** Its special use (RFC 6154) without the backslash: "Sent". */
  specialUse?: string;
  /** Made when the user's mailbox list is first read ("create"), and subscribed as well ("subscribe"). */
  auto?: 'create' | 'subscribe';
}

/** A port to listen on; "free" for one nothing listens on at the moment. Absent: no such listener. */
export type DovecotPort = number | 'free';

export interface DovecotOptions {
  /**
   * The directory to run from: made if missing, left in place by stop() (its owner removes it). By
   * default a new temporary directory, removed by stop().
   */
  dir?: string;
  /** The temporary directory's name: "holdfast-<name>-…". */
  name?: string;
  /** Every user's password (a static passdb: any user name signs in with it). */
  password: string;
  /** A master user who may sign in as anyone: SASL PLAIN with the user as authorization identity, or "user*master". */
  master?: { user: string; password: string };
  imapPort?: DovecotPort;
  imapsPort?: DovecotPort;
  /** LMTP delivery on this port (and on run/lmtp, for anyone). */
  lmtpPort?: DovecotPort;
  /**
   * TLS with a self-signed certificate for this name, required before any login (STARTTLS on the imap
   * port). Without: no TLS at all, and plaintext logins allowed.
   */
  tls?: { commonName: string };
  /**
   * How the Maildirs are laid out: "maildir++" (Dovecot's default: folders as ".Name" beside the
   * INBOX's cur/new, "." as the hierarchy separator) or "fs" (folders as directories, "/").
   */
  layout?: 'maildir++' | 'fs';
  /** The inbox namespace's folders. Absent: Dovecot's implicit namespace, with no folder made for anyone. */
  mailboxes?: DovecotMailbox[];
  /** Appended to dovecot.conf (process and connection limits for load). */
  extraConfig?: string;
}

export interface Dovecot {
  /** The directory it runs from; dovecot.conf is there, for doveadm -c. */
  dir: string;
  conf: string;
  /** 0 for a listener that is off. */
  imapPort: number;
  imapsPort: number;
  lmtpPort: number;
  password: string;
  /** The Maildir of a user, or of one of their folders (INBOX's when none). */
  maildir(user: string, folder?: string): string;
  /** Messages in a user's folder (INBOX when none), seen or not. */
  count(user: string, folder?: string): number;
  /** The Message-IDs of the messages in a user's folder (INBOX when none), sorted; "none:<file>" for one without. */
  messageIds(user: string, folder?: string): string[];
  /** Stops the daemon, waiting until it has gone (its ports are free); removes its directory if it made it. */
  stop(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const portOf = async (port: DovecotPort | undefined) => (port === 'free' ? freePort() : (port ?? 0));
const idOf = (flag: '-u' | '-g', user: string) => Number(spawnSync('id', [flag, user]).stdout.toString().trim());

function listener(name: string, port: number) {
  return port
    ? `  inet_listener ${name} {\n    address = 127.0.0.1\n    port = ${port}\n  }`
    : `  inet_listener ${name} {\n    port = 0\n  }`;
}

function namespace(separator: string, mailboxes: DovecotMailbox[]) {
  const blocks = mailboxes.map((m) => {
    const lines = [
      ...(m.specialUse ? [`    special_use = \\${m.specialUse}`] : []),
      ...(m.auto ? [`    auto = ${m.auto}`] : []),
    ];
    return `  mailbox "${m.name}" {\n${lines.map((l) => `${l}\n`).join('')}  }`;
  });
  return `namespace inbox {\n  inbox = yes\n  separator = ${separator}\n${blocks.map((b) => `${b}\n`).join('')}}\n`;
}

function config(dir: string, options: DovecotOptions, ports: { imap: number; imaps: number; lmtp: number }) {
  const fs = options.layout === 'fs';
  const tls = options.tls
    ? `ssl = required\nssl_cert = <${dir}/cert.pem\nssl_key = <${dir}/key.pem\n`
    : 'ssl = no\ndisable_plaintext_auth = no\n';
  const master = options.master
    ? `passdb {\n  driver = passwd-file\n  args = ${dir}/master-users\n  master = yes\n}\n`
    : '';
  const lmtp = ports.lmtp
    ? `service lmtp {\n${listener('lmtp', ports.lmtp)}\n  unix_listener lmtp {\n    mode = 0666\n  }\n}\n`
    : '';
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = imap${ports.lmtp ? ' lmtp' : ''}
listen = 127.0.0.1
${tls}log_path = ${dir}/dovecot.log
mail_location = maildir:${dir}/mail/%n${fs ? ':LAYOUT=fs' : ''}
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
auth_username_format = %n
${options.master ? 'auth_master_user_separator = *\n' : ''}${master}passdb {
  driver = static
  args = password=${options.password}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%n
}
${options.mailboxes ? namespace(fs ? '/' : '.', options.mailboxes) : ''}service imap-login {
${listener('imap', ports.imap)}
${listener('imaps', ports.imaps)}
}
${lmtp}service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
${options.extraConfig ?? ''}`;
}

/** Message-IDs in a Maildir (header only), sorted. */
function maildirIds(maildir: string): string[] {
  const ids: string[] = [];
  for (const sub of ['new', 'cur']) {
    const path = join(maildir, sub);
    if (!existsSync(path)) continue;
    for (const file of readdirSync(path)) {
      const head = readFileSync(join(path, file), 'latin1').split(/\r?\n\r?\n/, 1)[0]!;
      ids.push(/^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? `none:${file}`);
    }
  }
  return ids.sort();
}

/** Starts a Dovecot as `options` shape it; throws, with its log, if it does not start. */
export async function startDovecot(options: DovecotOptions): Promise<Dovecot> {
  requireTool(dovecotBinary, options.lmtpPort ? 'dovecot-imapd dovecot-lmtpd' : 'dovecot-imapd');
  if (options.lmtpPort) requireTool(lmtpBinary, 'dovecot-lmtpd');
  const owned = !options.dir;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `holdfast-${options.name ?? 'dovecot'}-`));
  // Dovecot's mail user (nobody) must be able to enter the directory.
  if (owned) chmodSync(dir, 0o755);
  const remove = () => {
    if (owned) rmSync(dir, { recursive: true, force: true });
  };
  const conf = join(dir, 'dovecot.conf');
  const log = join(dir, 'dovecot.log');
  let ports: { imap: number; imaps: number; lmtp: number };
  try {
    for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
    chownSync(join(dir, 'mail'), idOf('-u', 'nobody'), idOf('-g', 'nobody'));
    if (options.tls) {
      const pems = selfsigned.generate([{ name: 'commonName', value: options.tls.commonName }], {
        days: 2,
        keySize: 2048,
      });
      writeFileSync(join(dir, 'cert.pem'), pems.cert);
      writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
    }
    if (options.master) {
      writeFileSync(join(dir, 'master-users'), `${options.master.user}:{PLAIN}${options.master.password}\n`);
      chmodSync(join(dir, 'master-users'), 0o644); // Dovecot's auth process reads it, whatever the umask
    }
    ports = {
      imap: await portOf(options.imapPort),
      imaps: await portOf(options.imapsPort),
      lmtp: await portOf(options.lmtpPort),
    };
    writeFileSync(conf, config(dir, options, ports));
    // The daemon keeps inherited pipes open: give it none, and read its log if it fails. UTC: the
    // dates it prints do not depend on the machine's zone.
    const started = spawnSync(dovecotBinary, ['-c', conf], { stdio: 'ignore', env: { ...process.env, TZ: 'UTC' } });
    if (started.status !== 0)
      throw new Error(
        `dovecot did not start (exit ${started.status}): ${existsSync(log) ? readFileSync(log, 'utf8') : `no log in ${dir}`}`,
      );
  } catch (error) {
    remove();
    throw error;
  }
  const maildir = (user: string, folder?: string) =>
    folder === undefined || folder === 'INBOX'
      ? join(dir, 'mail', user)
      : join(dir, 'mail', user, options.layout === 'fs' ? folder : `.${folder}`);
  return {
    dir,
    conf,
    imapPort: ports.imap,
    imapsPort: ports.imaps,
    lmtpPort: ports.lmtp,
    password: options.password,
    maildir,
    count: (user, folder) =>
      ['new', 'cur'].reduce((n, sub) => {
        const path = join(maildir(user, folder), sub);
        return n + (existsSync(path) ? readdirSync(path).length : 0);
      }, 0),
    messageIds: (user, folder) => maildirIds(maildir(user, folder)),
    stop() {
      stopDaemon(join(dir, 'run', 'master.pid'), '/usr/bin/doveadm', ['-c', conf, 'stop']);
      remove();
    },
  };
}
