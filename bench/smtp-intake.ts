// bench/smtp-intake: MX-style load (one 5 KB message per connection, 20 sessions) against Holdfast
// and against Postfix + Dovecot (LMTP) from Debian, in the same run. Prints messages per second
// accepted (250, durable) and end to end (until all are in the mailbox), the ratios, and Holdfast's
// p99 accept latency at half its peak rate.
//
//   npm run bench:smtp-intake -- [--messages 10000] [--sessions 20] [--size 5120] [--holdfast-only]
//                                [--database postgres://…] [--compare-sqlite] [--rounds 1] [--workers N|auto]
//                                [--filtering] [--rspamd-workers N]
//
// --database runs Holdfast on a new PostgreSQL database on that server (created and dropped by the
// run); --compare-sqlite measures Holdfast on SQLite as well, alternating with PostgreSQL for
// --rounds rounds, and prints PostgreSQL's figures as a share of SQLite's. --workers runs Holdfast as
// `holdfast start --workers N` (processes sharing the listeners; CPU counts all of them).
// --filtering measures Holdfast twice a round, without and with every message scanned by a real
// rspamd and clamd ([filtering], docs/filtering.md), started on loopback as the filtering tests start
// them (test/filtering/scan-engines.ts) but with --rspamd-workers scanner processes (default: one per
// core), and prints the filtered share of the throughput and the scanners' CPU per message.
import { writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { startEngines } from '../test/filtering/scan-engines.ts';
import { benchArgs, workersOption } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { withStarted } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';
import { addActivity, type ProcessActivity, treeActivity } from './lib/process-cpu.ts';
import { withMailPeers } from './lib/peers.ts';
import { pacedLatency, smtpSource, waitFor } from './lib/smtp-load.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '10000' },
  sessions: { type: 'string', default: '20' },
  size: { type: 'string', default: '5120' },
  'holdfast-only': { type: 'boolean', default: false },
  'compare-sqlite': { type: 'boolean', default: false },
  rounds: { type: 'string', default: '1' },
  filtering: { type: 'boolean', default: false },
  'rspamd-workers': { type: 'string' },
  ...workersOption,
});
const messages = Number(values.messages);
const sessions = Number(values.sessions);
const size = Number(values.size);
const rounds = Number(values.rounds);
const recipient = 'bench@bench.example';
const cores = availableParallelism();
const rspamdWorkers = Number(values['rspamd-workers'] ?? cores);
// rspamd's lookups (the sender's domain, the HELO name, URLs, SPF) go to a DNS stub on loopback, as
// Holdfast's do: answered at once, as a local caching resolver would, never the machine's resolver.
const rspamdDns = values.filtering ? await new DnsStub().start() : undefined;
const engines = values.filtering
  ? await startEngines({ workers: rspamdWorkers, nameserver: rspamdDns!.server })
  : undefined;
if (engines?.skip) throw new Error(`--filtering: ${engines.skip}`);
const filteringToml = engines
  ? `[filtering]\nrspamd_url = "${engines.rspamd!.url}"\nclamd = "${engines.clamd!.address}"\n`
  : '';

interface Figures {
  acceptRate: number;
  endToEndRate: number;
}

type HoldfastFigures = Figures & {
  latency: Awaited<ReturnType<typeof pacedLatency>>;
  latencyRate: number;
  cpuPerMessage: number;
  databaseCpuPerMessage: number;
  generatorCpuPerMessage: number;
  /** The server's activity (every process) from intake to mailbox, divided by the messages. */
  perMessage: ProcessActivity;
  /** rspamd's and clamd's CPU (every process) per message, when they scanned. */
  scannerCpuPerMessage: number;
};

/** rspamd's and clamd's CPU seconds so far, all their processes. */
function scannerCpuSeconds(): number {
  if (!engines) return 0;
  return [engines.rspamd!.pid, engines.clamd!.pid]
    .map((pid) => treeActivity(pid))
    .reduce((sum, a) => sum + a.userSeconds + a.systemSeconds, 0);
}

async function measureHoldfast(databaseUrl: string | undefined, filtered = false): Promise<HoldfastFigures> {
  return withInstallation(databaseUrl, async (installation) => {
    installation.cli(['user', 'add', recipient, '--password', 'Load-Test-Password-7']);
    // All load comes from one address: lift the per-source connection limit (20) above the sessions.
    writeFileSync(
      join(installation.dir, 'holdfast.toml'),
      `[smtp]\nmax_connections_per_ip = ${sessions * 4}\n${filtered ? filteringToml : ''}`,
    );
    // SPF/DKIM/DMARC lookups go to a DNS stub on loopback (no records: "none"), never the machine's resolver.
    return withStarted(
      () => new DnsStub().start(),
      (dns) => dns.stop(),
      async (dns) => {
        const server = await installation.start(
          { HOLDFAST_CONFIG: join(installation.dir, 'holdfast.toml'), HOLDFAST_DNS_SERVERS: dns.server },
          { workers: values.workers },
        );
        const before = await server.count(recipient);
        const cpuBefore = server.cpuSeconds();
        const activityBefore = server.activity();
        const databaseCpuBefore = installation.store.serverCpuSeconds();
        const scannersBefore = scannerCpuSeconds();
        const started = performance.now();
        const load = await smtpSource({ port: server.port('smtp'), messages, sessions, size, to: recipient });
        const done = await waitFor(async () => (await server.count(recipient)) >= before + messages, 600_000);
        const cpuPerMessage = ((server.cpuSeconds() - cpuBefore) * 1000) / messages;
        const activity = addActivity(server.activity(), activityBefore, -1);
        const databaseCpuPerMessage = ((installation.store.serverCpuSeconds() - databaseCpuBefore) * 1000) / messages;
        const scannerCpuPerMessage = ((scannerCpuSeconds() - scannersBefore) * 1000) / messages;
        const acceptRate = messages / load.seconds;
        const generatorCpuPerMessage = (load.cpuSeconds * 1000) / messages;
        const endToEndRate = messages / ((done - started) / 1000);
        const latencyRate = Math.max(1, Math.round(acceptRate / 2));
        const latency = await pacedLatency({
          port: server.port('smtp'),
          rate: latencyRate,
          seconds: 5,
          size,
          to: recipient,
        });
        return {
          acceptRate,
          endToEndRate,
          latency,
          latencyRate,
          cpuPerMessage,
          databaseCpuPerMessage,
          generatorCpuPerMessage,
          scannerCpuPerMessage,
          perMessage: {
            userSeconds: (activity.userSeconds * 1000) / messages,
            systemSeconds: (activity.systemSeconds * 1000) / messages,
            syscalls: activity.syscalls / messages,
            contextSwitches: activity.contextSwitches / messages,
          },
        };
      },
    );
  });
}

async function measurePostfix(): Promise<Figures> {
  // A fixed path: a run killed outright leaves its daemons' pid files there for the next run to find.
  const dir = join(tmpdir(), 'holdfast-bench-peers');
  return withMailPeers(
    dir,
    { domain: 'bench.example', smtpPort: 2_625, lmtpPort: 24_924, imapPort: 14_343 },
    async ({ postfix, dovecot }) => {
      await new Promise((r) => setTimeout(r, 1000));
      const user = recipient.split('@')[0]!;
      const started = performance.now();
      const load = await smtpSource({ port: postfix.port, messages, sessions, size, to: recipient });
      const done = await waitFor(() => dovecot.count(user) >= messages, 600_000);
      return { acceptRate: messages / load.seconds, endToEndRate: messages / ((done - started) / 1000) };
    },
  );
}

const fmt = (n: number) => n.toFixed(0).padStart(7);
const line = (name: string, f: Figures) => `${name.padEnd(26)}${fmt(f.acceptRate)}      ${fmt(f.endToEndRate)}`;
const ours = storeName(values.database);
console.log(
  `smtp-intake: ${messages} messages of ${size} bytes, ${sessions} concurrent sessions, one message per connection (smtp-source), Holdfast on ${ours} with --workers ${values.workers}`,
);
const peer = values['holdfast-only'] ? undefined : await measurePostfix();
const holdfast: HoldfastFigures[] = [];
const sqlite: HoldfastFigures[] = [];
const unfiltered: HoldfastFigures[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternating, so that the machine's drifting speed touches both stores (both paths) alike.
  if (values['compare-sqlite'] && round % 2 === 1) sqlite.push(await measureHoldfast(undefined));
  if (values.filtering && round % 2 === 1) unfiltered.push(await measureHoldfast(values.database));
  holdfast.push(await measureHoldfast(values.database, values.filtering));
  if (values.filtering && round % 2 === 0) unfiltered.push(await measureHoldfast(values.database));
  if (values['compare-sqlite'] && round % 2 === 0) sqlite.push(await measureHoldfast(undefined));
}
const filteredName = values.filtering ? `, scanned by rspamd (${rspamdWorkers} workers) and clamd` : '';
console.log('');
console.log('                          accepted/s   end-to-end/s');
if (peer) console.log(line('Postfix + Dovecot (LMTP)', peer));
holdfast.forEach((f, i) => console.log(line(`Holdfast (${ours}${filteredName})${rounds > 1 ? ` #${i + 1}` : ''}`, f)));
unfiltered.forEach((f, i) => console.log(line(`Holdfast (${ours}, unscanned)${rounds > 1 ? ` #${i + 1}` : ''}`, f)));
sqlite.forEach((f, i) => console.log(line(`Holdfast (SQLite)${rounds > 1 ? ` #${i + 1}` : ''}`, f)));
const mean = (list: HoldfastFigures[], key: 'acceptRate' | 'endToEndRate') =>
  list.reduce((sum, f) => sum + f[key], 0) / list.length;
if (peer) {
  console.log(
    `${'ratio Holdfast/peer'.padEnd(26)}${(mean(holdfast, 'acceptRate') / peer.acceptRate).toFixed(2).padStart(7)}      ${(mean(holdfast, 'endToEndRate') / peer.endToEndRate).toFixed(2).padStart(7)}   (goal: end-to-end >= 2.00)`,
  );
}
if (unfiltered.length) {
  const perRound = holdfast.map((f, i) => (f.acceptRate / unfiltered[i]!.acceptRate).toFixed(2)).join(', ');
  console.log(
    `${'ratio scanned/unscanned'.padEnd(26)}${(mean(holdfast, 'acceptRate') / mean(unfiltered, 'acceptRate')).toFixed(2).padStart(7)}      ${(mean(holdfast, 'endToEndRate') / mean(unfiltered, 'endToEndRate')).toFixed(2).padStart(7)}   (goal: accepted >= 0.70; per round ${perRound})`,
  );
}
if (sqlite.length) {
  const perRound = holdfast.map((f, i) => (f.endToEndRate / sqlite[i]!.endToEndRate).toFixed(2)).join(', ');
  console.log(
    `${`ratio ${ours}/SQLite`.padEnd(26)}${(mean(holdfast, 'acceptRate') / mean(sqlite, 'acceptRate')).toFixed(2).padStart(7)}      ${(mean(holdfast, 'endToEndRate') / mean(sqlite, 'endToEndRate')).toFixed(2).padStart(7)}   (goal: end-to-end >= 0.80; per round ${perRound})`,
  );
}
console.log('');
console.log('(Holdfast also checks SPF, DKIM, DMARC and ARC on every message; this Postfix has no such milters.)');
for (const [name, list] of [
  [`${ours}${filteredName}`, holdfast],
  [`${ours}, unscanned`, unfiltered],
  ['SQLite', sqlite],
] as const) {
  for (const f of list) {
    // Less at the mercy of other load on the machine than the rates: what one message costs the server.
    console.log(
      `Holdfast (${name}): CPU per message, intake to mailbox ${f.cpuPerMessage.toFixed(2)} ms (user + system, all threads)` +
        (f.databaseCpuPerMessage ? ` + ${f.databaseCpuPerMessage.toFixed(2)} ms in PostgreSQL's backends` : '') +
        `; accept latency at ${f.latencyRate} msg/s (half its peak), ` +
        `${f.latency.count} messages: p50 ${f.latency.p50.toFixed(1)} ms, p99 ${f.latency.p99.toFixed(1)} ms, max ${f.latency.max.toFixed(1)} ms (goal: p99 < 50 ms)`,
    );
    // What the machine's cores allow at these costs, whatever the number of processes: every message
    // costs the server, PostgreSQL's backends, the scanners and the load generator (smtp-source), on the same cores.
    const a = f.perMessage;
    console.log(
      `  server per message: ${a.userSeconds.toFixed(2)} ms user + ${a.systemSeconds.toFixed(2)} ms system, ` +
        `${a.syscalls.toFixed(1)} read/write system calls, ${a.contextSwitches.toFixed(1)} context switches`,
    );
    if (f.scannerCpuPerMessage)
      console.log(
        `  rspamd and clamd used ${f.scannerCpuPerMessage.toFixed(2)} ms of CPU per message (all their processes)`,
      );
    const perMessage = f.cpuPerMessage + f.databaseCpuPerMessage + f.generatorCpuPerMessage + f.scannerCpuPerMessage;
    const ceiling = (cores * 1000) / perMessage;
    console.log(
      `  smtp-source used ${f.generatorCpuPerMessage.toFixed(2)} ms of CPU per message; at ${perMessage.toFixed(2)} ms a message in all, ` +
        `${cores} cores allow at most ${ceiling.toFixed(0)} msg/s end to end` +
        (peer ? ` (${(ceiling / peer.endToEndRate).toFixed(2)} × the peer; goal with every core: 3 ×)` : ''),
    );
  }
}
await engines?.stop();
await rspamdDns?.stop();
