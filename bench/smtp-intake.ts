// bench/smtp-intake: MX-style load (one 5 KB message per connection, 20 sessions) against Holdfast
// and against Postfix + Dovecot (LMTP) from Debian, in the same run. Prints messages per second
// accepted (250, durable) and end to end (until all are in the mailbox), the ratios, and Holdfast's
// p99 accept latency at half its peak rate.
//
//   npm run bench:smtp-intake -- [--messages 10000] [--sessions 20] [--size 5120] [--holdfast-only]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { holdfastCli, startHoldfastProcess } from './lib/holdfast-process.ts';
import { startDovecot, startPostfix } from './lib/peers.ts';
import { pacedLatency, smtpSource, waitFor } from './lib/smtp-load.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '10000' }, sessions: { type: 'string', default: '20' }, size: { type: 'string', default: '5120' }, 'holdfast-only': { type: 'boolean', default: false } } });
const messages = Number(values.messages);
const sessions = Number(values.sessions);
const size = Number(values.size);
const recipient = 'bench@bench.example';

interface Figures {
  acceptRate: number;
  endToEndRate: number;
}

async function measureHoldfast(): Promise<Figures & { latency: Awaited<ReturnType<typeof pacedLatency>>; latencyRate: number; cpuPerMessage: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
  try {
    holdfastCli(dir, ['user', 'add', recipient, '--password', 'Load-Test-Password-7']);
    // All load comes from one address: lift the per-source connection limit (20) above the sessions.
    writeFileSync(join(dir, 'holdfast.toml'), `[smtp]\nmax_connections_per_ip = ${sessions * 4}\n`);
    // SPF/DKIM/DMARC lookups go to a DNS stub on loopback (no records: "none"), never the machine's resolver.
    const dns = await new DnsStub().start();
    const server = await startHoldfastProcess(dir, { HOLDFAST_CONFIG: join(dir, 'holdfast.toml'), HOLDFAST_DNS_SERVERS: dns.server });
    try {
      const before = server.count(recipient);
      const cpuBefore = server.cpuSeconds();
      const started = performance.now();
      const seconds = await smtpSource({ port: server.port('smtp'), messages, sessions, size, to: recipient });
      const done = await waitFor(() => server.count(recipient) >= before + messages, 600_000);
      const cpuPerMessage = ((server.cpuSeconds() - cpuBefore) * 1000) / messages;
      const acceptRate = messages / seconds;
      const endToEndRate = messages / ((done - started) / 1000);
      const latencyRate = Math.max(1, Math.round(acceptRate / 2));
      const latency = await pacedLatency({ port: server.port('smtp'), rate: latencyRate, seconds: 5, size, to: recipient });
      return { acceptRate, endToEndRate, latency, latencyRate, cpuPerMessage };
    } finally {
      await server.stop();
      dns.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measurePostfix(): Promise<Figures> {
  const dir = join(tmpdir(), 'holdfast-bench-peers'); // a fixed path: Postfix must be told about it once
  rmSync(dir, { recursive: true, force: true });
  const dovecot = startDovecot(join(dir, 'dovecot'), 24_924, 14_343);
  const postfix = startPostfix(join(dir, 'postfix'), 2_625, 'bench.example', dovecot.lmtpPort);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const user = recipient.split('@')[0]!;
    const started = performance.now();
    const seconds = await smtpSource({ port: postfix.port, messages, sessions, size, to: recipient });
    const done = await waitFor(() => dovecot.count(user) >= messages, 600_000);
    return { acceptRate: messages / seconds, endToEndRate: messages / ((done - started) / 1000) };
  } finally {
    postfix.stop();
    dovecot.stop();
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => n.toFixed(0).padStart(7);
console.log(`smtp-intake: ${messages} messages of ${size} bytes, ${sessions} concurrent sessions, one message per connection (smtp-source)`);
const peer = values['holdfast-only'] ? undefined : await measurePostfix();
const ours = await measureHoldfast();
console.log('');
console.log('                          accepted/s   end-to-end/s');
if (peer) console.log(`Postfix + Dovecot (LMTP)  ${fmt(peer.acceptRate)}      ${fmt(peer.endToEndRate)}`);
console.log(`Holdfast (SQLite)         ${fmt(ours.acceptRate)}      ${fmt(ours.endToEndRate)}`);
if (peer) console.log(`ratio Holdfast/peer       ${(ours.acceptRate / peer.acceptRate).toFixed(2).padStart(7)}      ${(ours.endToEndRate / peer.endToEndRate).toFixed(2).padStart(7)}   (goal: end-to-end >= 2.00)`);
console.log('');
console.log('(Holdfast also checks SPF, DKIM, DMARC and ARC on every message; this Postfix has no such milters.)');
// Less at the mercy of other load on the machine than the rates: what one message costs the server.
console.log(`Holdfast CPU per message, intake to mailbox: ${ours.cpuPerMessage.toFixed(2)} ms (user + system, all threads)`);
console.log(
  `Holdfast accept latency at ${ours.latencyRate} msg/s (half its peak), ${ours.latency.count} messages: ` +
    `p50 ${ours.latency.p50.toFixed(1)} ms, p99 ${ours.latency.p99.toFixed(1)} ms, max ${ours.latency.max.toFixed(1)} ms (goal: p99 < 50 ms)`,
);
