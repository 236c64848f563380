// npm run drill:failover — the failure drill of issue 17 item 7, on loopback. It builds the usual
// production layout (three etcd members, three PostgreSQL 15 under Patroni with synchronous_mode,
// HAProxy routing to the primary by Patroni's REST check) and three Holdfast nodes in their own data
// directories, puts SMTP load on every node with an IMAP IDLE session on each, and then, one at a
// time: kills a Holdfast node, kills the PostgreSQL primary's postmaster (SIGKILL; Patroni lives),
// kills the primary's whole host (Patroni and PostgreSQL, SIGKILL), and kills etcd's leader. After each it prints the invariants; it exits non-zero if one fails, and
// removes everything it started and wrote on every way out (Ctrl-C included).
//
// Needs root (PostgreSQL runs as the `postgres` account through setpriv) and the Debian packages
// patroni, etcd-server, haproxy and postgresql-15. Uses ports 23379-23384, 25400, 25432-25434 and
// 28008-28010 on 127.0.0.1, plus free ports for Holdfast.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drillLeaseMs, type HoldfastNode, HoldfastNodes } from './lib/holdfast-nodes.ts';
import { IdleWatch } from './lib/idle-watch.ts';
import { countMailboxes, leasedBy, waitDrained } from './lib/invariants.ts';
import { PostgresCluster } from './lib/postgres-cluster.ts';
import { Processes, sleep } from './lib/processes.ts';
import { RemoteSink } from './lib/remote-sink.ts';
import { type Attempt, SmtpLoad } from './lib/smtp-load.ts';

const keep = process.argv.includes('--keep'); // leave the temporary directory (logs) behind
const users = ['ana', 'ben', 'cho'].map((name) => `${name}@drill.example`);
const password = 'Wonderland-Tide-57';
/** Goal of issue 17: SMTP accepts again within this long after the primary is lost. */
const smtpBackGoalMs = 30_000;

const base = mkdtempSync(join(tmpdir(), 'holdfast-drill-'));
chmodSync(base, 0o755); // PostgreSQL's account must reach its directories below
const processes = new Processes(base);
const cluster = new PostgresCluster(base, processes);
const watches = new Map<string, IdleWatch>();
/** The remote server takes a second per message: remote deliveries are in flight when something dies. */
const sink = new RemoteSink(1000);
let load: SmtpLoad | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const watch of watches.values()) watch.close();
    await load?.stop().catch(() => {});
    await sink.stop().catch(() => {});
    await cluster.stop().catch(() => {});
    await processes.stopAll().catch(() => {});
    if (keep) console.log(`logs and data kept in ${base}`);
    else rmSync(base, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    console.log(`\n${signal}: stopping the drill and cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });

const log = (text: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

interface StepResult {
  step: string;
  ok: boolean;
  lines: string[];
}
const results: StepResult[] = [];

/** Temporary-failure window of SMTP on nodes in `nodes` after `since`: from the event to the first 250 after the last failure. */
function smtpWindow(attempts: Attempt[], since: number, nodes: Set<string>) {
  const mine = attempts.filter((a) => a.at >= since && nodes.has(a.node));
  const failures = mine.filter((a) => a.outcome !== 'accepted');
  const lastFailure = failures.at(-1);
  const backAt = lastFailure ? mine.find((a) => a.outcome === 'accepted' && a.at > lastFailure.at)?.at : since;
  return {
    attempts: mine.length,
    temporary: failures.filter((a) => a.outcome === 'temporary').length,
    unreachable: failures.filter((a) => a.outcome === 'unreachable').length,
    permanent: failures.filter((a) => a.outcome === 'permanent'),
    backAfterMs: backAt === undefined ? undefined : backAt - since,
    replies: [...new Set(failures.map((a) => a.reply.split('\n')[0]!.slice(0, 90)))].slice(0, 4),
  };
}

/**
 * After losing the database primary: SMTP is given at least 15 s and then until it accepts again,
 * IDLE sessions 5 s more to see mail delivered after the recovery, and the step is checked.
 */
async function checkDatabaseStep(
  step: string,
  since: number,
  survivors: HoldfastNode[],
  primary: string | undefined,
  label: string,
) {
  await sleep(Math.max(0, 15_000 - (Date.now() - since)));
  await waitSmtpBack(since, 60_000);
  await sleep(5000);
  await checkStep(step, since, {
    survivors,
    ok: primary !== undefined,
    extra: [`${primary ? 'ok  ' : 'FAIL'} ${label}: ${primary ?? 'none'}`],
    smtpGoalMs: smtpBackGoalMs,
  });
}

async function checkStep(
  step: string,
  since: number,
  options: { survivors: HoldfastNode[]; extra: string[]; ok: boolean; smtpGoalMs?: number },
) {
  const url = cluster.url('holdfast');
  load!.pause();
  await load!.settled();
  const drained = await waitDrained(url, 120_000);
  const accepted = load!.accepted();
  const refused = load!.attempts.filter((a) => a.outcome === 'temporary' && !a.remote).map((a) => a.messageId);
  const count = await countMailboxes(url, accepted, refused);
  const remote = sink.compare(load!.accepted(true));
  const window = smtpWindow(load!.attempts, since, new Set(options.survivors.map((n) => n.name)));
  const idle = options.survivors.map((n) => ({ node: n.name, saw: watches.get(n.name)?.sawMailAfter(since) ?? false }));
  let ok = options.ok;
  const check = (pass: boolean, text: string) => {
    if (!pass) ok = false;
    return `${pass ? 'ok  ' : 'FAIL'} ${text}`;
  };
  const lines = [
    check(
      count.lost.length === 0,
      `lost: ${count.lost.length} of ${count.accepted} answered 250${count.lost.length ? ` (${count.lost.slice(0, 3).join(', ')})` : ''}`,
    ),
    check(
      count.duplicated.length === 0,
      `duplicated: ${count.duplicated.length}${count.duplicated.length ? ` (${count.duplicated.slice(0, 3).join(', ')})` : ''}`,
    ),
    check(
      drained.waiting === 0,
      `queue drained: ${drained.waiting === 0 ? `yes, ${drained.ms} ms after the load paused` : `no, ${drained.waiting} recipients still waiting`}`,
    ),
    check(
      window.permanent.length === 0,
      `SMTP 5xx answers: ${window.permanent.length}${window.permanent.length ? ` (${window.permanent[0]!.reply})` : ''}`,
    ),
    check(
      window.backAfterMs !== undefined && window.backAfterMs <= (options.smtpGoalMs ?? Infinity),
      `SMTP on the nodes up: ${window.temporary} temporary failures and ${window.unreachable} failed connections in ${window.attempts} attempts; ` +
        `accepting again ${window.backAfterMs === undefined ? 'never' : `${(window.backAfterMs / 1000).toFixed(1)} s`} after the failure` +
        (options.smtpGoalMs ? ` (goal ${options.smtpGoalMs / 1000} s)` : ''),
    ),
    ...(window.replies.length ? [`     replies meanwhile: ${window.replies.join(' | ')}`] : []),
    check(
      remote.missing.length === 0,
      `remote mail: ${remote.missing.length} of ${load!.accepted(true).length} answered 250 not received by the remote server`,
    ),
    `     remote mail received twice by the remote server so far (a delivery in flight when its node or the database died): ${remote.twice.length}`,
    ...idle.map((i) => check(i.saw, `IMAP IDLE on ${i.node} announced new mail after the failure`)),
    `     answered 4xx but stored anyway (the node lost the commit's answer; the sender's retry is a second copy): ${count.deliveredThoughRefused}`,
    ...options.extra,
  ];
  results.push({ step, ok, lines });
  console.log(`\n== ${step}: ${ok ? 'PASS' : 'FAIL'}`);
  for (const line of lines) console.log(`   ${line}`);
  console.log('');
  load!.resume();
}

async function openWatch(node: HoldfastNode, user: string) {
  watches.get(node.name)?.close();
  watches.set(node.name, await new IdleWatch(node.name, node.ports.imaps!, user, password).open());
}

async function main() {
  log(`building the cluster in ${base}`);
  const t0 = Date.now();
  await cluster.start();
  const members = await cluster.members();
  log(
    `PostgreSQL cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${members.map((m) => `${m.name} ${m.role}`).join(', ')}; etcd leader ${await cluster.etcdLeader()}`,
  );
  await cluster.query('create database holdfast');
  const sinkPort = await sink.start();
  const nodes = new HoldfastNodes(
    base,
    processes,
    cluster.url('holdfast'),
    3,
    // The drill's one submitting user sends far more than a person: no sending limits in the way.
    `[limits]\nmessages_per_minute = 100000\nrecipients_per_day = 10000000\n` +
      `[[relay]]\ndomains = ["remote.example"]\nurl = "smtp://127.0.0.1:${sinkPort}"\n`,
  );
  await nodes.cli(['init', '--json']);
  for (const user of users) await nodes.cli(['user', 'add', user, '--password', password]);
  for (const node of nodes.nodes) await nodes.start(node);
  log(
    `Holdfast nodes up: ${nodes.nodes.map((n) => `${n.name} smtp ${n.ports.smtp} imaps ${n.ports.imaps}`).join('; ')}`,
  );
  for (const [i, node] of nodes.nodes.entries()) await openWatch(node, users[i % users.length]!);

  load = new SmtpLoad(nodes.nodes, users, {
    user: users[0]!,
    password,
    to: 'someone@remote.example',
    intervalMs: 1000,
  });
  load.start();
  await sleep(8000);
  log(`warm-up: ${load.accepted().length} messages accepted`);

  // 1. A Holdfast node dies.
  {
    const victim = nodes.nodes[2]!;
    const survivors = nodes.nodes.filter((n) => n !== victim);
    const pid = victim.pid;
    // Killed while it holds leases, so that their takeover is what the step checks (local deliveries
    // take milliseconds: wait for a moment when some are in flight, for up to 10 s).
    const url = cluster.url('holdfast');
    const until = Date.now() + 10_000;
    while (Date.now() < until && (await leasedBy(url, pid)) === 0) await sleep(10);
    log(`step 1: kill -9 ${victim.name} (pid ${pid}) under load`);
    const since = Date.now();
    await nodes.kill(victim);
    watches.get(victim.name)?.close();
    watches.delete(victim.name);
    const leased = await leasedBy(url, pid);
    let takenOverMs: number | undefined;
    while (Date.now() - since < drillLeaseMs + 20_000) {
      if ((await leasedBy(url, pid)) === 0) {
        takenOverMs = Date.now() - since;
        break;
      }
      await sleep(200);
    }
    await sleep(Math.max(0, 12_000 - (Date.now() - since)));
    await checkStep('a Holdfast node killed (SIGKILL)', since, {
      survivors,
      ok: takenOverMs !== undefined,
      extra: [
        `${takenOverMs !== undefined ? 'ok  ' : 'FAIL'} leases of the dead node: ${leased} in flight at the kill, all taken over ${takenOverMs === undefined ? 'never' : `after ${(takenOverMs / 1000).toFixed(1)} s`} (lease ${drillLeaseMs / 1000} s)`,
      ],
      smtpGoalMs: 0, // node loss is invisible to the other nodes' clients: not one failure
    });
    await nodes.start(victim);
    await openWatch(victim, users[2]!);
    log(`${victim.name} restarted`);
  }

  // 2. The PostgreSQL primary's postmaster is killed; its Patroni lives and decides (restart or failover).
  {
    await sleep(5000);
    const since = Date.now();
    const primary = await cluster.killPrimaryPostgres();
    log(`step 2: kill -9 the postmaster of the PostgreSQL primary ${primary.name} (its Patroni lives on) under load`);
    const leader = await waitForRestartedPrimary(since, 90_000);
    log(
      `PostgreSQL primary ${leader ?? 'not'} running again ${((Date.now() - since) / 1000).toFixed(1)} s after the kill`,
    );
    await checkDatabaseStep(
      `the PostgreSQL primary's postmaster (${primary.name}) killed`,
      since,
      nodes.nodes,
      leader,
      'primary afterwards',
    );
    const healthy = await cluster.waitHealthy(180_000);
    log(`cluster healthy: ${healthy.map((m) => `${m.name} ${m.role}`).join(', ')}`);
  }

  // 3. The PostgreSQL primary's host dies: Patroni and PostgreSQL, so the leader key must expire.
  {
    await sleep(5000);
    const since = Date.now();
    const primary = await cluster.killPrimaryHost();
    log(`step 3: killed the PostgreSQL primary's host ${primary.name} (Patroni and postmaster, SIGKILL) under load`);
    const promoted = await waitForPrimary(primary.name, 90_000);
    log(`Patroni promoted ${promoted ?? 'nobody'} ${((Date.now() - since) / 1000).toFixed(1)} s after the kill`);
    await checkDatabaseStep(
      `the PostgreSQL primary's host (${primary.name}) killed`,
      since,
      nodes.nodes,
      promoted,
      'new primary',
    );
    cluster.startPatroni(primary);
    const healthy = await cluster.waitHealthy(180_000);
    log(`${primary.name} back as a replica: ${healthy.map((m) => `${m.name} ${m.role}`).join(', ')}`);
  }

  // 4. etcd's leader dies.
  {
    await sleep(5000);
    const leader = await cluster.etcdLeader();
    if (!leader) throw new Error('etcd has no leader');
    const since = Date.now();
    await processes.stop(leader, 'SIGKILL');
    log(`step 4: killed etcd's leader ${leader} (SIGKILL) under load`);
    let newLeader: string | undefined;
    // The survivors name the dead leader until their election timeout passes.
    while (!newLeader && Date.now() - since < 30_000) {
      const named = await cluster.etcdLeader();
      if (named && named !== leader) newLeader = named;
      else await sleep(100);
    }
    log(`etcd elected ${newLeader ?? 'nobody'} ${((Date.now() - since) / 1000).toFixed(1)} s after`);
    await sleep(Math.max(0, 20_000 - (Date.now() - since)));
    const members = await cluster.members();
    await checkStep(`etcd's leader (${leader}) killed`, since, {
      survivors: nodes.nodes,
      ok: newLeader !== undefined,
      extra: [
        `${newLeader ? 'ok  ' : 'FAIL'} new etcd leader: ${newLeader ?? 'none'}; Patroni: ${members.map((m) => `${m.name} ${m.role}`).join(', ')}`,
      ],
      smtpGoalMs: smtpBackGoalMs,
    });
  }

  await load.stop();
  const all = load.attempts;
  const summary = await countMailboxes(
    cluster.url('holdfast'),
    load.accepted(),
    all.filter((a) => a.outcome === 'temporary').map((a) => a.messageId),
  );
  console.log(
    `== overall: ${all.length} SMTP attempts, ${summary.accepted} answered 250 for local mailboxes, ${summary.lost.length} lost, ${summary.duplicated.length} duplicated`,
  );
  const remote = sink.compare(load.accepted(true));
  console.log(
    `   remote: ${load.accepted(true).length} answered 250, ${remote.missing.length} never reached the remote server, ${remote.twice.length} reached it twice`,
  );
  for (const r of results) console.log(`   ${r.ok ? 'PASS' : 'FAIL'}  ${r.step}`);
  return (
    results.every((r) => r.ok) &&
    summary.lost.length === 0 &&
    summary.duplicated.length === 0 &&
    remote.missing.length === 0
  );
}

/** A running primary (other than `old`, when given). */
async function waitForPrimary(old: string | undefined, timeoutMs: number): Promise<string | undefined> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const leader = (await cluster.members()).find((m) => m.role === 'leader' && m.state === 'running');
    if (leader && leader.name !== old) return leader.name;
    await sleep(250);
  }
  return undefined;
}

/** A primary whose postmaster started after `since` (restarted in place, or promoted), reached through HAProxy. */
async function waitForRestartedPrimary(since: number, timeoutMs: number): Promise<string | undefined> {
  while (Date.now() - since < timeoutMs) {
    try {
      const { rows } = await cluster.query(
        'select extract(epoch from pg_postmaster_start_time()) * 1000 as started, pg_is_in_recovery() as standby, inet_server_port() as port',
      );
      const row = rows[0] as { started: string; standby: boolean; port: number };
      if (Number(row.started) > since && !row.standby)
        return cluster.layout.postgres.find((m) => m.port === row.port)?.name ?? `port ${row.port}`;
    } catch {
      // not yet
    }
    await sleep(250);
  }
  return undefined;
}

/** Until some node answers 250 to a message sent after `since`. */
async function waitSmtpBack(since: number, timeoutMs: number) {
  while (Date.now() - since < timeoutMs) {
    if (load!.attempts.some((a) => a.at > since && a.outcome === 'accepted')) {
      const window = smtpWindow(load!.attempts, since, new Set(load!.attempts.map((a) => a.node)));
      if (window.backAfterMs !== undefined) return;
    }
    await sleep(250);
  }
}

let exitCode = 1;
try {
  exitCode = (await main()) ? 0 : 1;
} catch (error) {
  console.error(`the drill could not run to its end: ${(error as Error).stack ?? error}`);
  for (const name of ['pg1', 'pg2', 'pg3', 'haproxy', 'holdfast1'])
    console.error(`--- last lines of ${name}.log\n${await processes.tail(name, 15)}`);
} finally {
  await cleanup();
}
console.log(exitCode === 0 ? 'drill passed' : 'drill FAILED');
process.exit(exitCode);
