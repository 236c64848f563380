// bench/imap: the same IMAP workload against Holdfast and against Dovecot (Debian's dovecot-imapd,
// loopback, non-standard port) in the same run.
//
// 1. Ten clients with long-lived sessions, each on its own mailbox of 5 KB messages, loop over a mix
//    of SELECT, FETCH (flags of a range, envelopes, one whole body), STORE, SEARCH, APPEND of 5 KB,
//    EXPUNGE and a short IDLE, for a fixed time. Prints commands per second and p99 latency.
// 2. A thousand connections logged in and IDLE in their INBOX. Prints the memory (PSS) each costs the
//    server.
//
// With --login-cycle, instead: clients that sign in per connection, as phones polling and clients
// reconnecting after an outage do. Each client connects, LOGINs, runs SELECT, FETCH of all flags and
// UID SEARCH UNSEEN, LOGOUTs, and starts over, for a fixed time. Prints sign-ins and commands per
// second and the sign-in latency (connect to LOGIN's OK, p50 and p99) of both servers; then Holdfast
// once more, offered sign-ins at the rate Dovecot reached (new connections at even intervals,
// whatever the answers), for its latency at the peer's rate. Holdfast checks a password with scrypt
// once and then from its cache of verified sign-ins; the Dovecot here has a static passdb (no hash).
//
//   npm run bench:imap -- [--seconds 20] [--rounds 4] [--messages 500] [--idle 1000] [--clients 10] [--holdfast-only]
//                         [--login-cycle] [--database postgres://…]
//
// --messages defaults to 50 with --login-cycle.
//
// Both servers run at once and the mixed workload alternates between them (--rounds slots of
// seconds/rounds each per server), so that drift in the machine's speed touches both alike.
//
// --holdfast-only skips Dovecot (for profiling: HOLDFAST_BENCH_PROFILE=1 writes a CPU profile of the
// server to /tmp/prof); the ratio needs both.
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapTalk } from '../test/helpers/imap-talk.ts';
import { benchArgs, workersOption } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { withDovecot, withHoldfastImap } from './lib/imap-servers.ts';

const { values } = benchArgs(import.meta.url, {
  seconds: { type: 'string', default: '20' },
  rounds: { type: 'string', default: '4' },
  messages: { type: 'string' },
  idle: { type: 'string', default: '1000' },
  clients: { type: 'string', default: '10' },
  'holdfast-only': { type: 'boolean', default: false },
  ...workersOption,
  'login-cycle': { type: 'boolean', default: false },
});
const loginCycle = values['login-cycle'];
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const messagesPerMailbox = Number(values.messages ?? (loginCycle ? 50 : 500));
const idleConnections = Number(values.idle);
const clients = Number(values.clients);

interface Server {
  name: string;
  port: number;
  user(i: number): string;
  password: string;
  /** Process ids whose memory counts as the server's. */
  pids(): number[];
  /** Lets the server drop garbage before memory is read (Holdfast: a full GC; Dovecot has none to drop). */
  settle?(): Promise<void>;
  /** JavaScript heap and buffers in use after the last settle, in KiB (Holdfast only). */
  heapKb?(): number;
}

function message(i: number): string {
  const body = `Line ${i} of a benchmark message about quarterly planning and lunch.\r\n`.repeat(70).slice(0, 5000);
  return `From: sender${i % 7}@bench.example\r\nTo: someone@bench.example\r\nSubject: Benchmark message ${i} topic${i % 13}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${i}.${Math.random()}@bench.example>\r\n\r\n${body}`;
}

async function connect(server: Server, i: number): Promise<ImapTalk> {
  const { talk } = await ImapTalk.open(server.port);
  const reply = await talk.command(`LOGIN ${server.user(i)} ${server.password}`, 60_000);
  if (!/ OK /.test(reply)) throw new Error(`${server.name}: login failed: ${reply}`);
  return talk;
}

async function seed(server: Server) {
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const talk = await connect(server, c);
      for (let i = 0; i < messagesPerMailbox; i++) {
        const text = message(i);
        const reply = await talk.command(`APPEND INBOX {${Buffer.byteLength(text)}+}\r\n${text}`, 60_000);
        if (!/ OK /.test(reply)) throw new Error(`${server.name}: APPEND failed: ${reply}`);
      }
      talk.close();
    }),
  );
}

interface WorkloadResult {
  latencies: number[];
  /** Server CPU time used during the workload, ms. */
  cpu: number;
  byVerb: Map<string, number[]>;
  seconds: number;
}

async function workload(server: Server, forSeconds: number): Promise<WorkloadResult> {
  const latencies: number[] = [];
  const byVerb = new Map<string, number[]>();
  const cpuBefore = cpuMs(server.pids());
  const begun = performance.now();
  const deadline = begun + forSeconds * 1000;
  const timed = async (talk: ImapTalk, command: string) => {
    const started = performance.now();
    const reply = await talk.command(command, 60_000);
    const took = performance.now() - started;
    latencies.push(took);
    const verb = command.split(' ')[0]!;
    if (!byVerb.has(verb)) byVerb.set(verb, []);
    byVerb.get(verb)!.push(took);
    if (!/ OK /.test(reply.slice(reply.lastIndexOf('\r\n') + 1)))
      throw new Error(`${server.name}: ${command.slice(0, 40)}: ${reply.slice(-200)}`);
    return reply;
  };
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const talk = await connect(server, c);
      let round = 0;
      while (performance.now() < deadline) {
        round++;
        const selected = await timed(talk, 'SELECT INBOX');
        const exists = Number(/\* (\d+) EXISTS/.exec(selected)?.[1] ?? 1);
        const pick = () => 1 + Math.floor(Math.random() * exists);
        await timed(talk, `FETCH 1:${Math.min(exists, 50)} (UID FLAGS)`);
        const start = pick();
        await timed(talk, `FETCH ${start}:${Math.min(exists, start + 9)} (ENVELOPE)`);
        await timed(talk, `FETCH ${pick()} (BODY.PEEK[])`);
        await timed(talk, `STORE ${pick()} +FLAGS (\\Seen)`);
        await timed(talk, `SEARCH SUBJECT topic${round % 13}`);
        const text = message(round);
        await timed(talk, `APPEND INBOX {${Buffer.byteLength(text)}+}\r\n${text}`);
        await timed(talk, `STORE ${exists} +FLAGS.SILENT (\\Deleted)`);
        await timed(talk, 'EXPUNGE');
        const started = performance.now();
        talk.write(`i${round} IDLE\r\n`);
        await talk.line(60_000);
        talk.write('DONE\r\n');
        await talk.response(`i${round}`, 60_000);
        const took = performance.now() - started;
        latencies.push(took);
        if (!byVerb.has('IDLE')) byVerb.set('IDLE', []);
        byVerb.get('IDLE')!.push(took);
      }
      talk.close();
    }),
  );
  return { latencies, byVerb, cpu: cpuMs(server.pids()) - cpuBefore, seconds: (performance.now() - begun) / 1000 };
}

/** Commands per second, p99 and mean latency per command over several rounds. */
function summarize(name: string, results: WorkloadResult[]) {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const byVerb = new Map<string, number[]>();
  for (const r of results)
    for (const [verb, list] of r.byVerb) byVerb.set(verb, [...(byVerb.get(verb) ?? []), ...list]);
  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;
  process.stderr.write(
    `${name}: mean ms per command: ${[...byVerb].map(([verb, list]) => `${verb} ${mean(list).toFixed(1)}`).join(', ')}\n`,
  );
  const time = results.reduce((sum, r) => sum + r.seconds, 0);
  const cpu = results.reduce((sum, r) => sum + r.cpu, 0);
  return {
    perSecond: latencies.length / time,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
    cpuUsPerCommand: (cpu * 1000) / latencies.length,
  };
}

/**
 * CPU time the processes have used (user and system, their threads and ended children included), in ms. Per command it
 * is steadier than commands per second on a shared machine whose speed drifts.
 */
function cpuMs(pids: number[]): number {
  const ticksPerMs = 100 / 1000; // USER_HZ
  let total = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): utime, stime, then cutime and cstime —
      // the time of children that ended (Dovecot's per-session processes end with their sessions).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticksPerMs;
    } catch {
      // The process ended.
    }
  }
  return total;
}

/** Proportional set size of the processes, in KiB (shared pages split between their users). */
function pss(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      total += Number(match?.[1] ?? 0);
    } catch {
      // The process ended.
    }
  }
  return total;
}

/**
 * Memory each idle connection costs: connections logged in and IDLE in their INBOX, opened in two
 * steps; the cost is the growth between the first fifth and all of them, so what the server frees or
 * settles after earlier work does not count.
 */
async function idleMemory(server: Server): Promise<{ pssKb: number; heapKb: number }> {
  const talks: ImapTalk[] = [];
  const open = async (from: number, to: number) => {
    for (let i = from; i < to; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, to - i) }, async (_, j) => {
          const talk = await connect(server, (i + j) % clients);
          await talk.command('SELECT INBOX', 60_000);
          talk.write('idle IDLE\r\n');
          await talk.line(60_000);
          talks.push(talk);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
    await server.settle?.();
    return { pss: pss(server.pids()), heap: server.heapKb?.() ?? NaN };
  };
  const first = Math.ceil(idleConnections / 5);
  const before = await open(0, first);
  const after = await open(first, idleConnections);
  talks.forEach((t) => t.close());
  const count = idleConnections - first;
  return { pssKb: (after.pss - before.pss) / count, heapKb: (after.heap - before.heap) / count };
}

function dovecotPids(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return (
          readFileSync(`/proc/${p}/comm`, 'utf8').trim().startsWith('dovecot') ||
          ['imap', 'imap-login', 'auth', 'config', 'anvil', 'log'].includes(
            readFileSync(`/proc/${p}/comm`, 'utf8').trim(),
          )
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

const perSecondOf = (r: WorkloadResult) => r.latencies.length / r.seconds;

/**
 * Both servers run side by side; the mixed workload alternates between them in rounds (Dovecot,
 * Holdfast, Holdfast, Dovecot, ...), so that a machine whose speed drifts during the run (a shared
 * host) is slow or fast for both alike. Each round's pair gives a ratio; the figures are over all
 * rounds.
 */
async function compare(servers: Server[]) {
  for (const server of servers) {
    process.stderr.write(`${server.name}: seeding ${clients} mailboxes with ${messagesPerMailbox} messages\n`);
    await seed(server);
  }
  const results = new Map<Server, WorkloadResult[]>(servers.map((s) => [s, []]));
  const slot = seconds / rounds;
  process.stderr.write(`mixed workload: ${rounds} rounds of ${slot.toFixed(1)} s per server, alternating\n`);
  const pairRatios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) results.get(server)!.push(await workload(server, slot));
    if (servers.length === 2)
      pairRatios.push(perSecondOf(results.get(servers[1]!)![round]!) / perSecondOf(results.get(servers[0]!)![round]!));
  }
  const figures = new Map<
    Server,
    { perSecond: number; p99: number; cpuUsPerCommand: number; idleKb: number; heapKb: number }
  >();
  for (const server of servers) {
    const mixed = summarize(server.name, results.get(server)!);
    process.stderr.write(`${server.name}: ${idleConnections} idle connections\n`);
    const idle = await idleMemory(server);
    figures.set(server, { ...mixed, idleKb: idle.pssKb, heapKb: idle.heapKb });
  }
  return { figures, pairRatios };
}

/** What one server did in one slot of the login-cycle workload. */
interface CycleResult {
  /** Each sign-in: from the connect to LOGIN's OK, ms. */
  logins: number[];
  commands: number;
  /** Cycles that ended in an error (a refused command, a connection the server closed), and the last error. */
  failures: { count: number; last?: string };
  seconds: number;
  /** Server CPU time used, ms. */
  cpu: number;
}

/**
 * Runs one cycle, counting an error instead of ending the run: under a storm a server may drop a
 * connection, and how often is part of the result (printed beside the figures).
 */
async function counted(run: () => Promise<number>, result: { commands: number; failures: CycleResult['failures'] }) {
  try {
    const commands = await run(); // read the total after the wait: other cycles add to it meanwhile
    result.commands += commands;
  } catch (error) {
    result.failures.count++;
    result.failures.last = String(error);
  }
}

/** The commands of one cycle after LOGIN, before LOGOUT: what a client polling its INBOX asks. */
const cycleCommands = ['SELECT INBOX', 'FETCH 1:* (UID FLAGS)', 'UID SEARCH UNSEEN'];

/** One cycle as client `i`: connect, LOGIN, the commands, LOGOUT. Adds the sign-in's latency to `logins`. */
async function cycle(server: Server, i: number, logins: number[]): Promise<number> {
  const started = performance.now();
  const { talk } = await ImapTalk.open(server.port);
  try {
    const expectOk = (command: string, reply: string) => {
      if (!/ OK /.test(reply.slice(reply.lastIndexOf('\r\n') + 1)))
        throw new Error(`${server.name}: ${command}: ${reply.slice(-200)}`);
    };
    expectOk('LOGIN', await talk.command(`LOGIN ${server.user(i)} ${server.password}`, 60_000));
    logins.push(performance.now() - started);
    for (const command of cycleCommands) expectOk(command, await talk.command(command, 60_000));
    expectOk('LOGOUT', await talk.command('LOGOUT', 60_000));
  } finally {
    talk.close();
  }
  return 2 + cycleCommands.length;
}

/** `clients` clients cycling, each starting over as soon as its cycle ends, for `forSeconds`. */
async function loginCycles(server: Server, forSeconds: number): Promise<CycleResult> {
  const logins: number[] = [];
  const tally = { commands: 0, failures: { count: 0 } as CycleResult['failures'] };
  const cpuBefore = cpuMs(server.pids());
  const begun = performance.now();
  const deadline = begun + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < deadline) await counted(() => cycle(server, c, logins), tally);
    }),
  );
  const seconds = (performance.now() - begun) / 1000;
  return { logins, ...tally, seconds, cpu: cpuMs(server.pids()) - cpuBefore };
}

/**
 * Cycles started at `perSecond` at even intervals for `forSeconds`, whether or not earlier ones have
 * ended (an open loop: what a server sees from many independent clients), over the same users.
 */
async function pacedCycles(server: Server, perSecond: number, forSeconds: number): Promise<CycleResult> {
  const logins: number[] = [];
  const tally = { commands: 0, failures: { count: 0 } as CycleResult['failures'] };
  const cpuBefore = cpuMs(server.pids());
  const begun = performance.now();
  const running: Promise<void>[] = [];
  for (let n = 0; n < perSecond * forSeconds; n++) {
    const at = begun + (n * 1000) / perSecond;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    running.push(counted(() => cycle(server, n % clients, logins), tally));
  }
  await Promise.all(running);
  const seconds = (performance.now() - begun) / 1000;
  return { logins, ...tally, seconds, cpu: cpuMs(server.pids()) - cpuBefore };
}

interface CycleFigures {
  loginsPerSecond: number;
  commandsPerSecond: number;
  p50: number;
  p99: number;
  cpuUsPerLogin: number;
  failures: CycleResult['failures'];
}

function cycleFigures(results: CycleResult[]): CycleFigures {
  const logins = results.flatMap((r) => r.logins).sort((a, b) => a - b);
  const time = results.reduce((sum, r) => sum + r.seconds, 0);
  const at = (q: number) => logins[Math.min(logins.length - 1, Math.floor(logins.length * q))] ?? NaN;
  return {
    loginsPerSecond: logins.length / time,
    commandsPerSecond: results.reduce((sum, r) => sum + r.commands, 0) / time,
    p50: at(0.5),
    p99: at(0.99),
    cpuUsPerLogin: (results.reduce((sum, r) => sum + r.cpu, 0) * 1000) / logins.length,
    failures: {
      count: results.reduce((sum, r) => sum + r.failures.count, 0),
      last: results
        .map((r) => r.failures.last)
        .filter(Boolean)
        .at(-1),
    },
  };
}

/**
 * The login-cycle workload on both servers, alternating in rounds as the mixed workload does; then
 * Holdfast (the last server) paced at the rate the first reached.
 */
async function compareLoginCycles(servers: Server[]) {
  for (const server of servers) {
    process.stderr.write(`${server.name}: seeding ${clients} mailboxes with ${messagesPerMailbox} messages\n`);
    await seed(server);
  }
  const results = new Map<Server, CycleResult[]>(servers.map((s) => [s, []]));
  const slot = seconds / rounds;
  process.stderr.write(`login cycles: ${rounds} rounds of ${slot.toFixed(1)} s per server, alternating\n`);
  const pairRatios: number[] = [];
  const rate = (r: CycleResult) => r.logins.length / r.seconds;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) results.get(server)!.push(await loginCycles(server, slot));
    if (servers.length === 2)
      pairRatios.push(rate(results.get(servers[1]!)![round]!) / rate(results.get(servers[0]!)![round]!));
  }
  const figures = new Map(servers.map((s) => [s, cycleFigures(results.get(s)!)]));
  let paced: { perSecond: number; figures: CycleFigures } | undefined;
  if (servers.length === 2) {
    const perSecond = Math.max(1, Math.round(figures.get(servers[0]!)!.loginsPerSecond));
    process.stderr.write(`${servers[1]!.name}: paced at ${perSecond} sign-ins/s for ${slot.toFixed(1)} s\n`);
    paced = { perSecond, figures: cycleFigures([await pacedCycles(servers[1]!, perSecond, slot)]) };
  }
  return { figures, pairRatios, paced };
}

function printLoginCycles(
  peer: CycleFigures,
  ours: CycleFigures,
  pairRatios: number[],
  paced?: { perSecond: number; figures: CycleFigures },
) {
  const row = (name: string, f: CycleFigures) =>
    `${name.padEnd(20)}${f.loginsPerSecond.toFixed(0).padStart(9)} ${f.commandsPerSecond.toFixed(0).padStart(11)} ${f.p50.toFixed(1).padStart(13)} ${f.p99.toFixed(1).padStart(13)} ${f.cpuUsPerLogin.toFixed(0).padStart(20)}`;
  console.log(
    `imap login cycle: ${clients} clients, each: connect, LOGIN, ${cycleCommands.join(', ')}, LOGOUT, and again; ${messagesPerMailbox} messages per mailbox; ${seconds} s per server in ${rounds} alternating rounds`,
  );
  console.log('');
  console.log('                    logins/s  commands/s  login p50 ms  login p99 ms  server CPU µs/login');
  console.log(row('Dovecot', peer));
  console.log(row(`Holdfast (${storeName(values.database)})`, ours));
  const failed = [
    ['Dovecot', peer],
    ['Holdfast', ours],
    ['Holdfast paced', paced?.figures],
  ] as const;
  for (const [name, f] of failed)
    if (f?.failures.count) console.log(`${name}: ${f.failures.count} cycles failed (last: ${f.failures.last})`);
  console.log(
    `ratio (logins/s)    ${(ours.loginsPerSecond / peer.loginsPerSecond).toFixed(2).padStart(9)}   (per round: ${pairRatios.map((r) => r.toFixed(2)).join(', ') || '-'})`,
  );
  if (paced)
    console.log(
      `Holdfast at Dovecot's rate (${paced.perSecond} logins/s offered, open loop): ${paced.figures.loginsPerSecond.toFixed(0)} logins/s, login p50 ${paced.figures.p50.toFixed(1)} ms, p99 ${paced.figures.p99.toFixed(1)} ms`,
    );
}

const users = Array.from({ length: clients }, (_, i) => `bench${i}@bench.example`);
const memoryFile = join(tmpdir(), `holdfast-bench-memory-${process.pid}.json`);
process.env.HOLDFAST_BENCH_MEMORY_FILE = memoryFile;
const withHoldfast = <T>(run: (server: Server) => Promise<T>) =>
  withHoldfastImap(
    {
      users,
      password: 'Bench-Password-1',
      imapSettings: 'max_connections_per_user = 2000\n',
      databaseUrl: values.database,
      workers: values.workers,
    },
    (server) =>
      run({
        name: 'Holdfast',
        port: server.port('imap'),
        user: (i) => users[i]!,
        password: 'Bench-Password-1',
        pids: () => server.pids(),
        heapKb: () => {
          const usage = JSON.parse(readFileSync(memoryFile, 'utf8')) as { heapUsed: number; external: number };
          return (usage.heapUsed + usage.external) / 1024;
        },
        settle: async () => {
          // Two full collections apart: V8 hands freed pages back to the system gradually.
          for (let i = 0; i < 2; i++) {
            server.child.kill('SIGUSR2');
            await new Promise((r) => setTimeout(r, 1500));
          }
        },
      }),
  );
const dovecot = (port: number): Server => ({
  name: 'Dovecot',
  port,
  user: (i) => `bench${i}`,
  password: 'bench',
  pids: dovecotPids,
});
const none = { perSecond: NaN, p99: NaN, cpuUsPerCommand: NaN, idleKb: NaN, heapKb: NaN };

async function runLoginCycles() {
  const noFigures: CycleFigures = {
    loginsPerSecond: NaN,
    commandsPerSecond: NaN,
    p50: NaN,
    p99: NaN,
    cpuUsPerLogin: NaN,
    failures: { count: 0 },
  };
  const { peer, ours, pairRatios, paced } = values['holdfast-only']
    ? await withHoldfast(async (h) => ({
        peer: noFigures,
        ours: (await compareLoginCycles([h])).figures.get(h)!,
        pairRatios: [] as number[],
        paced: undefined,
      }))
    : await withDovecot({ lmtp: 24_925, imap: 14_344 }, (port) =>
        withHoldfast(async (h) => {
          const d = dovecot(port);
          const { figures, pairRatios, paced } = await compareLoginCycles([d, h]);
          return { peer: figures.get(d)!, ours: figures.get(h)!, pairRatios, paced };
        }),
      );
  printLoginCycles(peer, ours, pairRatios, paced);
}

async function runMixed() {
  const { peer, ours, pairRatios } = values['holdfast-only']
    ? await withHoldfast(async (h) => ({
        peer: none,
        ours: (await compare([h])).figures.get(h)!,
        pairRatios: [] as number[],
      }))
    : await withDovecot({ lmtp: 24_925, imap: 14_344 }, (port) =>
        withHoldfast(async (h) => {
          const d = dovecot(port);
          const { figures, pairRatios } = await compare([d, h]);
          return { peer: figures.get(d)!, ours: figures.get(h)!, pairRatios };
        }),
      );

  console.log(
    `imap: ${clients} long-lived sessions, ${messagesPerMailbox} messages of 5 KB per mailbox, ${seconds} s mixed workload per server in ${rounds} alternating rounds; ${idleConnections} idle connections`,
  );
  console.log('');
  console.log(
    '                    commands/s   p99 ms   server CPU µs/command   KiB per idle connection (process PSS; JS heap + buffers)',
  );
  console.log(
    `Dovecot             ${peer.perSecond.toFixed(0).padStart(10)} ${peer.p99.toFixed(1).padStart(8)}   ${peer.cpuUsPerCommand.toFixed(0).padStart(20)}   ${peer.idleKb.toFixed(0).padStart(6)}`,
  );
  console.log(
    `${`Holdfast (${storeName(values.database)})`.padEnd(20)}${ours.perSecond.toFixed(0).padStart(10)} ${ours.p99.toFixed(1).padStart(8)}   ${ours.cpuUsPerCommand.toFixed(0).padStart(20)}   ${ours.idleKb.toFixed(0).padStart(6)}; ${ours.heapKb.toFixed(1)}`,
  );
  console.log(
    `ratio (commands/s)  ${(ours.perSecond / peer.perSecond).toFixed(2).padStart(10)}   (per round: ${pairRatios.map((r) => r.toFixed(2)).join(', ') || '-'})`,
  );
}

await (loginCycle ? runLoginCycles() : runMixed());
