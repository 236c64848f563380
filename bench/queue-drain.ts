// bench/queue-drain: a backlog of messages for a destination that was down is drained once it comes
// back, to Postfix's smtp-sink. Holdfast against Postfix doing the same, in the same run: both queue
// the backlog while the destination refuses connections, then the sink starts and each is told to
// retry now (holdfast queue retry --domain / postqueue -f). Prints messages per second drained.
//
//   npm run bench:queue-drain -- [--messages 10000]
import { rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { holdfastCli, startHoldfastProcess } from './lib/holdfast-process.ts';
import { startDovecot, startPostfix, startSmtpSink } from './lib/peers.ts';
import { smtpSource, waitFor } from './lib/smtp-load.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '10000' } } });
const messages = Number(values.messages);
const recipient = 'someone@sink.example';
const sinkPort = 2_626;

async function drainPostfix(): Promise<number> {
  const dir = join(tmpdir(), 'holdfast-bench-peers');
  rmSync(dir, { recursive: true, force: true });
  const dovecot = startDovecot(join(dir, 'dovecot'), 24_924, 14_343); // unused here, but the config expects an LMTP target
  const postfix = startPostfix(join(dir, 'postfix'), 2_625, 'local.example', dovecot.lmtpPort, `relayhost = [127.0.0.1]:${sinkPort}\n`);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    await smtpSource({ port: postfix.port, messages, sessions: 20, size: 5120, to: recipient });
    await waitFor(() => postfix.deferred() >= messages, 600_000);
    const sink = startSmtpSink(sinkPort);
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    postfix.flush();
    const done = await waitFor(() => postfix.queued() === 0, 600_000);
    sink.stop();
    return messages / ((done - started) / 1000);
  } finally {
    postfix.stop();
    dovecot.stop();
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drainHoldfast(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
  const dns = await new DnsStub().start();
  try {
    writeFileSync(
      join(dir, 'holdfast.toml'),
      `[smtp]\nmax_connections_per_ip = 100\n[queue]\nretry = ["30m"]\n[[relay]]\ndomains = ["sink.example"]\nurl = "smtp://127.0.0.1:${sinkPort}"\n`,
    );
    // sink.example is passed on (internal relay), so port 25 accepts it and the relay route sends it on.
    holdfastCli(dir, ['domain', 'add', 'sink.example', '--type', 'internal-relay']);
    const env = { HOLDFAST_CONFIG: join(dir, 'holdfast.toml'), HOLDFAST_DNS_SERVERS: dns.server };
    const server = await startHoldfastProcess(dir, env);
    const db = new SqliteDatabase(join(dir, 'holdfast.sqlite'), { readonly: true });
    const count = (state: string) => (db.prepare('select count(*) as n from queue_recipients where state = ?').get(state) as { n: number }).n;
    try {
      await smtpSource({ port: server.port('smtp'), messages, sessions: 20, size: 5120, to: recipient });
      await waitFor(() => count('deferred') >= messages, 600_000);
      const sink = startSmtpSink(sinkPort);
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      holdfastCli(dir, ['queue', 'retry', '--domain', 'sink.example']);
      const progress = setInterval(() => process.stderr.write(`  holdfast: ${count('delivered')} delivered, ${count('deferred')} deferred, ${count('inflight')} in flight\n`), 5000);
      const done = await waitFor(() => count('delivered') >= messages, 600_000)
        .catch((error) => {
          const replies = db.prepare('select state, substr(last_reply, 1, 160) as reply, count(*) as n from queue_recipients where state != ? group by 1, 2 order by 3 desc limit 5').all('delivered');
          throw new Error(`${error.message}; not delivered: ${JSON.stringify(replies)}`);
        })
        .finally(() => clearInterval(progress));
      sink.stop();
      return messages / ((done - started) / 1000);
    } finally {
      db.close();
      await server.stop();
    }
  } finally {
    dns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`queue-drain: ${messages} messages of 5 KB queued while the destination was down, then drained to smtp-sink`);
const peer = await drainPostfix();
const ours = await drainHoldfast();
console.log('');
console.log(`Postfix            ${peer.toFixed(0).padStart(6)} msg/s`);
console.log(`Holdfast (SQLite)  ${ours.toFixed(0).padStart(6)} msg/s`);
console.log(`ratio              ${(ours / peer).toFixed(2).padStart(6)}`);
