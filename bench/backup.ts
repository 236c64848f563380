// bench/backup: how long backing up and restoring a whole mail store takes, with Holdfast's own
// tool (`holdfast backup create|verify|restore`) and with Dovecot's (`doveadm backup`), on the same
// mail, in the same run.
//
//   npm run bench:backup -- [--messages 100000] [--users 100] [--dovecot-jobs 2] [--database postgres://…]
//
// The store: --messages messages (by default 100,000, about 1.1 GB) of mixed sizes — mostly text of
// 2–16 KB, a few with attachments up to 2 MB — over --users users with five folders each
// (bench/lib/backup-seed.ts). They are written once as Maildir++ files, which each server takes in
// its own way: Dovecot saves them into its mail location itself (doveadm backup -R from the files),
// so its indexes and caches are those of delivered mail, and Holdfast loads them with the code of
// `holdfast import maildir`. Both then hold the same mail. Seeding is not measured.
//
// Measured, each step alone, in this order:
//   full backup     holdfast backup create --to DIR        | doveadm backup -u USER maildir:DIR/USER
//   verify          holdfast backup verify DIR             | (Dovecot has no such command)
//   restore         holdfast backup restore DIR into an    | doveadm -o mail_location=maildir:EMPTY/USER
//                   empty data directory or database      |   backup -R -u USER maildir:DIR/USER
//   then 1 % new mail is added to both (Holdfast: import maildir; Dovecot: saved as before), and
//   incremental     holdfast backup create --to DIR again  | doveadm backup -u USER … again
// Every doveadm step runs with -o maildir_copy_with_hardlinks=no: on one file system Dovecot would
// otherwise link the message files rather than copy them, a backup that shares the mail's disk.
// doveadm cannot name a destination per user in one run (-A/-F do not expand %u there), so it runs
// once per user, --dovecot-jobs at a time (default 2, one per core: Holdfast's backup also uses both);
// the time 100 doveadm processes take only to start is printed too. Holdfast runs as the CLI, on the
// installation's store, with no server running, from a copy of bin/ and dist/ taken at the start (so
// a rebuild by someone else during the run changes nothing). Needs root and Debian's dovecot-imapd;
// everything goes under /tmp/holdfast-bench-backup (Dovecot on 127.0.0.1:24931/14351), removed at
// the end; about 10 times the mail's size on disk at the peak (11 GB for the default).
//
// Printed: wall seconds of each step for both, the ratio (Holdfast / Dovecot: below 1 is faster),
// CPU seconds (the commands and their children; on PostgreSQL also the database's backends), and
// bytes on disk of each backup (`du`; for the incremental, what it added). `sync` runs before each
// step so that none pays for an earlier one's writes. Then the issue's goals, PASS or FAIL: create
// and restore faster than doveadm backup; an incremental backup after 1 % new mail in under a tenth
// of the full backup's time. The machine is shared: read ratios within one run, not absolute times.
import { execFileSync } from 'node:child_process';
import { chownSync, cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createScratchDatabase } from '../test/helpers/backends.ts';
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { userName, writeMail } from './lib/backup-seed.ts';
import { guarded, withStarted } from './lib/cleanup.ts';
import { holdfastEnv, withInstallation, type Installation } from './lib/holdfast-process.ts';
import { freshPeerDir, startDovecot } from './lib/peers.ts';
import { watchProcessesCpu } from './lib/process-cpu.ts';
import { diskBytes, maildirMessages, runAll, timed, type Job, type Timing } from './lib/timed-command.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '100000' },
  users: { type: 'string', default: '100' },
  'dovecot-jobs': { type: 'string', default: '2' },
});
const total = Number(values.messages);
const userCount = Number(values.users);
const dovecotJobs = Number(values['dovecot-jobs']);
const added = Math.max(1, Math.round(total / 100));
const users = Array.from({ length: userCount }, (_, i) => userName(i));
const password = 'Backup-Bench-Words-9';
// A fixed path: a run killed outright leaves Dovecot's pid file there for the next run to find.
const root = join(tmpdir(), 'holdfast-bench-backup');
const programDir = join(root, 'program');
const bin = join(programDir, 'bin', 'holdfast.js');
const peerDir = join(root, 'dovecot');
const mailRoot = join(peerDir, 'mail');
/** The Maildir files both servers' mail comes from. */
const filesRoot = join(root, 'maildir');
const nobody = { uid: Number(execFileSync('id', ['-u', 'nobody'])), gid: Number(execFileSync('id', ['-g', 'nobody'])) };

interface Step {
  name: string;
  holdfast?: Timing & { bytes?: number; extraCpu: number };
  dovecot?: Timing & { bytes?: number };
}

// With HOLDFAST_BENCH_PROFILE=1 every holdfast command writes a CPU profile to /tmp/prof, named
// after its step (backup-create-…, backup-restore-…).
const profile = (args: string[]) =>
  process.env.HOLDFAST_BENCH_PROFILE
    ? [
        '--cpu-prof',
        '--cpu-prof-dir=/tmp/prof',
        `--cpu-prof-name=${args.slice(0, 2).join('-')}-${Date.now()}.cpuprofile`,
      ]
    : [];
const holdfastJob = (env: NodeJS.ProcessEnv, args: string[]): Job => ({
  command: process.execPath,
  args: [...profile(args), bin, ...args],
  env,
});

/**
 * A copy of the compiled program for this run's commands: other people rebuilding dist/ meanwhile
 * (npm test and every bench do) would otherwise pull it from under a step half-way.
 */
function copyProgram() {
  for (const part of ['bin', 'dist', 'package.json'])
    cpSync(fileURLToPath(new URL(`../${part}`, import.meta.url)), join(programDir, part), { recursive: true });
  symlinkSync(fileURLToPath(new URL('../node_modules', import.meta.url)), join(programDir, 'node_modules'));
}

/** A directory Dovecot's mail user can write into. */
function dovecotDir(path: string) {
  mkdirSync(path, { recursive: true });
  chownSync(path, nobody.uid, nobody.gid);
}

function log(text: string) {
  process.stderr.write(`bench: ${text}\n`);
}

function dovecotTool(conf: string) {
  const doveadm = (args: string[]): Job => ({ command: '/usr/bin/doveadm', args: ['-c', conf, ...args] });
  // Between two Maildirs on one file system Dovecot links each message file instead of copying it
  // (maildir_copy_with_hardlinks, on by default): its "backup" and "restore" would then share every
  // file with the mail they came from and copy no mail at all. A backup belongs on another disk,
  // where no link is possible, so the measured steps copy, as they would there.
  const copying = ['-o', 'maildir_copy_with_hardlinks=no'];
  return {
    /**
     * Saves the files' mail into Dovecot's mail location — only what it does not have yet — through
     * Dovecot itself, which indexes and caches it as it would while delivering it.
     */
    take: (from: string) =>
      timed(
        users.map((user) => doveadm(['backup', '-R', '-u', user, `maildir:${join(from, user)}`])),
        dovecotJobs,
      ),
    backup: (to: string) =>
      timed(
        users.map((user) => doveadm([...copying, 'backup', '-u', user, `maildir:${join(to, user)}`])),
        dovecotJobs,
      ),
    restore: (from: string, into: string) =>
      timed(
        users.map((user) =>
          doveadm([
            ...copying,
            '-o',
            `mail_location=maildir:${join(into, user)}`,
            'backup',
            '-R',
            '-u',
            user,
            `maildir:${join(from, user)}`,
          ]),
        ),
        dovecotJobs,
      ),
    /** What starting doveadm costs, once per user: part of every Dovecot step above. */
    startOnly: () =>
      timed(
        users.map((user) => doveadm(['user', user])),
        dovecotJobs,
      ),
  };
}

/** Both stores seeded with the same mail, then every step measured; the steps, in order. */
async function run(installation: Installation): Promise<{ steps: Step[]; notes: string[] }> {
  const notes: string[] = [];
  const hfEnv = holdfastEnv(installation.dir, installation.store.env);
  const holdfast = (args: string[]) => holdfastJob(hfEnv, args);

  let started = performance.now();
  const seeded = writeMail(filesRoot, userCount, 0, total);
  for (const user of users) mkdirSync(join(filesRoot, user, 'cur'), { recursive: true });
  execFileSync('chown', ['-R', `${nobody.uid}:${nobody.gid}`, filesRoot]);
  log(`wrote ${seeded.messages} messages (${mb(seeded.bytes)} MB) as Maildir files in ${since(started)} s`);
  notes.push(
    `mail: ${seeded.messages} messages, ${mb(seeded.bytes)} MB, ${seeded.users.size} users with up to 5 folders each; ${added} new (1 %) before the incremental`,
  );

  return withStarted(
    () => startDovecot(peerDir, 24_931, 14_351),
    (dovecot) => dovecot.stop(),
    async () => {
      const dovecot = dovecotTool(join(peerDir, 'dovecot.conf'));
      const saved = await dovecot.take(filesRoot);
      requireCount('Dovecot', maildirMessages(mailRoot), total);
      log(`Dovecot saved them in ${saved.seconds.toFixed(1)} s`);

      started = performance.now();
      await seedHoldfast(hfEnv, filesRoot, seeded.users, true);
      const inHoldfast = await messageCount(installation);
      if (inHoldfast !== total) throw new Error(`Holdfast holds ${inHoldfast} messages after the import, not ${total}`);
      log(`Holdfast imported them in ${since(started)} s`);
      notes.push(
        `stores before: Holdfast (${installation.store.name}) ${mb(await holdfastStoreBytes(installation))} MB, Dovecot maildir ${mb(diskBytes(mailRoot))} MB`,
      );

      const steps: Step[] = [];
      const hfTarget = join(root, 'holdfast-backup');
      const dvTarget = join(root, 'dovecot-backup');
      dovecotDir(dvTarget);

      log('full backups');
      const full = await holdfastStep(installation, () =>
        timed([holdfast(['backup', 'create', '--to', hfTarget, '--json'])]),
      );
      const fullBackup = JSON.parse(full.stdout) as { dir: string; blobs: number; newBlobs: number };
      const dovecotFull = await dovecot.backup(dvTarget);
      requireCount('Dovecot backup', maildirMessages(dvTarget), total);
      steps.push({
        name: 'full backup',
        holdfast: { ...full, bytes: diskBytes(hfTarget) },
        dovecot: { ...dovecotFull, bytes: diskBytes(dvTarget) },
      });

      log('verify');
      const verify = await timed([holdfastJob(hfEnv, ['backup', 'verify', fullBackup.dir, '--json'])]);
      const verdict = JSON.parse(verify.stdout) as { ok: boolean; verdict: string };
      if (!verdict.ok) throw new Error(`holdfast backup verify: ${verdict.verdict}`);
      steps.push({ name: 'verify', holdfast: { ...verify, extraCpu: 0 } });

      log('restores');
      const restored = await holdfastRestore(fullBackup.dir);
      const dvRestore = join(root, 'dovecot-restore');
      dovecotDir(dvRestore);
      const dovecotRestored = await dovecot.restore(dvTarget, dvRestore);
      requireCount('Dovecot restore', maildirMessages(dvRestore), total);
      steps.push({
        name: 'restore into an empty store',
        holdfast: restored,
        dovecot: { ...dovecotRestored, bytes: diskBytes(dvRestore) },
      });

      log(`adding ${added} new messages to both`);
      const deltaRoot = join(root, 'new-mail');
      const delta = writeMail(deltaRoot, userCount, total, added);
      writeMail(filesRoot, userCount, total, added);
      execFileSync('chown', ['-R', `${nobody.uid}:${nobody.gid}`, filesRoot]);
      await dovecot.take(filesRoot);
      requireCount('Dovecot after the new mail', maildirMessages(mailRoot), total + added);
      await seedHoldfast(hfEnv, deltaRoot, delta.users, false);
      requireCount('Holdfast after the new mail', await messageCount(installation), total + added);

      log('incremental backups');
      const hfBefore = diskBytes(hfTarget);
      const dvBefore = diskBytes(dvTarget);
      const incremental = await holdfastStep(installation, () =>
        timed([holdfast(['backup', 'create', '--to', hfTarget, '--json'])]),
      );
      const incrementalBackup = JSON.parse(incremental.stdout) as { blobs: number; newBlobs: number };
      const dovecotIncremental = await dovecot.backup(dvTarget);
      requireCount('Dovecot incremental backup', maildirMessages(dvTarget), total + added);
      steps.push({
        name: 'incremental after 1 % new mail',
        holdfast: { ...incremental, bytes: diskBytes(hfTarget) - hfBefore },
        dovecot: { ...dovecotIncremental, bytes: diskBytes(dvTarget) - dvBefore },
      });
      notes.push(
        `Holdfast's incremental wrote ${incrementalBackup.newBlobs} of its ${incrementalBackup.blobs} contents (the full one ${fullBackup.newBlobs})`,
      );
      const startOnly = await dovecot.startOnly();
      notes.push(
        `of each Dovecot step, ${startOnly.seconds.toFixed(1)} s (${startOnly.cpuSeconds.toFixed(1)} s CPU) is starting ${userCount} doveadm processes (doveadm user, ${dovecotJobs} at a time)`,
      );
      return { steps, notes };
    },
  );
}

/**
 * Loads the Maildirs under `from` of these users into Holdfast (adding every user first with
 * `addUsers`), in one process per core, each with every other user.
 */
async function seedHoldfast(env: NodeJS.ProcessEnv, from: string, withMail: Set<string>, addUsers: boolean) {
  const script = fileURLToPath(new URL('./lib/backup-seed-holdfast.ts', import.meta.url));
  const jobs = [0, 1].map((half) => ({
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      script,
      password,
      ...(addUsers ? ['--add-users'] : []),
      ...users
        .filter((_, i) => i % 2 === half && (addUsers || withMail.has(users[i]!)))
        .map((user) => `${user}@bench.example=${withMail.has(user) ? join(from, user) : ''}`),
    ],
    env,
  }));
  await runAll(jobs, 2);
}

/** A Holdfast step on the installation's store, with the CPU its PostgreSQL backends spent. */
async function holdfastStep(installation: Installation, step: () => Promise<Timing>) {
  const before = installation.store.serverCpuSeconds();
  const timing = await step();
  return { ...timing, extraCpu: installation.store.serverCpuSeconds() - before };
}

/** `holdfast backup restore` into an empty data directory (SQLite) or a new database (PostgreSQL). */
async function holdfastRestore(backupDir: string): Promise<NonNullable<Step['holdfast']>> {
  const dataDir = join(root, 'holdfast-restore');
  mkdirSync(dataDir, { recursive: true });
  const restoreInto = async (extra: Record<string, string>, databaseCpu: () => number, size: () => Promise<number>) => {
    const timing = await timed([holdfastJob(holdfastEnv(dataDir, extra), ['backup', 'restore', backupDir, '--json'])]);
    const summary = JSON.parse(timing.stdout) as { counts: Record<string, number> };
    requireCount('Holdfast restore', summary.counts.messages ?? 0, total);
    return { ...timing, extraCpu: databaseCpu(), bytes: await size() };
  };
  if (!values.database)
    return restoreInto(
      {},
      () => 0,
      async () => diskBytes(dataDir),
    );
  const database = await createScratchDatabase(values.database, 'holdfast_bench_restore');
  return guarded(
    () => database.drop(),
    async () => {
      const cpu = watchProcessesCpu(` ${database.name} `);
      try {
        return await restoreInto(
          { HOLDFAST_DATABASE_URL: database.url },
          () => cpu.seconds(),
          () => databaseSize(database.url),
        );
      } finally {
        cpu.stop();
      }
    },
  );
}

async function databaseSize(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select pg_database_size(current_database()) as n');
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

async function messageCount(installation: Installation): Promise<number> {
  return (await installation.store.query<{ n: number }>('select count(*) as n from messages'))[0]!.n;
}

async function holdfastStoreBytes(installation: Installation): Promise<number> {
  if (!values.database) return diskBytes(installation.dir);
  const [row] = await installation.store.query<{ n: number }>('select pg_database_size(current_database()) as n');
  return Number(row?.n ?? 0);
}

function requireCount(what: string, actual: number, expected: number) {
  if (actual !== expected) throw new Error(`${what} holds ${actual} messages, not ${expected}`);
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const since = (start: number) => ((performance.now() - start) / 1000).toFixed(1);

function printTable(steps: Step[]) {
  const cells = (values: string[], widths: number[]) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const widths = [32, 11, 10, 6, 14, 13, 12, 11];
  console.log(
    cells(
      ['operation', 'Holdfast s', 'Dovecot s', 'ratio', 'Holdfast CPU s', 'Dovecot CPU s', 'Holdfast MB', 'Dovecot MB'],
      widths,
    ),
  );
  for (const step of steps) {
    const h = step.holdfast;
    const d = step.dovecot;
    console.log(
      cells(
        [
          step.name,
          h ? h.seconds.toFixed(2) : '—',
          d ? d.seconds.toFixed(2) : '—',
          h && d ? (h.seconds / d.seconds).toFixed(2) : '—',
          h ? `${h.cpuSeconds.toFixed(1)}${h.extraCpu ? ` + ${h.extraCpu.toFixed(1)}` : ''}` : '—',
          d ? d.cpuSeconds.toFixed(1) : '—',
          h?.bytes !== undefined ? mb(h.bytes) : '—',
          d?.bytes !== undefined ? mb(d.bytes) : '—',
        ],
        widths,
      ),
    );
  }
}

function printGoals(steps: Step[]) {
  const find = (name: string) => steps.find((s) => s.name.startsWith(name))!;
  const full = find('full');
  const restore = find('restore');
  const incremental = find('incremental');
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const h = (s: Step) => s.holdfast!.seconds;
  const d = (s: Step) => s.dovecot!.seconds;
  console.log('');
  console.log(
    `${verdict(h(full) < d(full))}  create faster than doveadm backup: ${h(full).toFixed(1)} s against ${d(full).toFixed(1)} s (ratio ${(h(full) / d(full)).toFixed(2)})`,
  );
  console.log(
    `${verdict(h(restore) < d(restore))}  restore faster than doveadm backup -R: ${h(restore).toFixed(1)} s against ${d(restore).toFixed(1)} s (ratio ${(h(restore) / d(restore)).toFixed(2)})`,
  );
  console.log(
    `${verdict(h(incremental) < h(full) / 10)}  incremental after 1 % new mail under a tenth of the full backup: ${(h(incremental) / h(full)).toFixed(3)} of it (Dovecot's: ${(d(incremental) / d(full)).toFixed(3)})`,
  );
}

console.log(
  `backup: ${total} messages over ${userCount} users; Holdfast on ${storeName(values.database)}, Dovecot maildir with ${dovecotJobs} doveadm at a time; ${cpus().length} cores`,
);
freshPeerDir(root);
const result = await guarded(
  () => rmSync(root, { recursive: true, force: true }),
  () => {
    copyProgram();
    return withInstallation(values.database, run);
  },
);
console.log('');
printTable(result.steps);
printGoals(result.steps);
console.log('');
for (const note of result.notes) console.log(note);
console.log(
  'CPU: user + system of the commands and their children; "+ n" is PostgreSQL\'s backends. MB: bytes on disk (du) of the backup, of what the incremental added, of the restored store (PostgreSQL: size of its database).',
);
