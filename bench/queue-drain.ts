// bench/queue-drain: a backlog of messages for a destination that was down is drained once it comes
// back, to Postfix's smtp-sink. Holdfast against Postfix doing the same, in the same run: both queue
// the backlog while the destination refuses connections, then the sink starts and each is told to
// retry now (holdfast queue retry --domain / postqueue -f). Prints messages per second drained.
//
//   npm run bench:queue-drain -- [--messages 10000] [--database postgres://…] [--workers N|auto]
//
// --workers runs Holdfast as `holdfast start --workers N` (processes sharing the listeners and the queue).
import { writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { benchArgs, workersOption } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { withStarted } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';
import { startSmtpSink, withMailPeers } from './lib/peers.ts';
import { smtpSource, waitFor } from './lib/smtp-load.ts';

const { values } = benchArgs(import.meta.url, { messages: { type: 'string', default: '10000' }, ...workersOption });
const messages = Number(values.messages);
const recipient = 'someone@sink.example';
const sinkPort = 2_626;

const withSink = <T>(use: (sink: ReturnType<typeof startSmtpSink>) => Promise<T>) =>
  withStarted(
    () => startSmtpSink(sinkPort),
    (sink) => sink.stop(),
    use,
  );

async function drainPostfix(): Promise<number> {
  const dir = join(tmpdir(), 'holdfast-bench-peers');
  // Dovecot is unused here, but the configuration expects an LMTP target.
  const peers = {
    domain: 'local.example',
    smtpPort: 2_625,
    lmtpPort: 24_924,
    imapPort: 14_343,
    extraMain: `relayhost = [127.0.0.1]:${sinkPort}\n`,
  };
  return withMailPeers(dir, peers, async ({ postfix }) => {
    await new Promise((r) => setTimeout(r, 1000));
    await smtpSource({ port: postfix.port, messages, sessions: 20, size: 5120, to: recipient });
    await waitFor(() => postfix.deferred() >= messages, 600_000);
    return withSink(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      postfix.flush();
      const done = await waitFor(() => postfix.queued() === 0, 600_000);
      return messages / ((done - started) / 1000);
    });
  });
}

interface HoldfastDrain {
  rate: number;
  /** Server CPU (every process) and smtp-sink's, per message drained, in ms. */
  cpuPerMessage: number;
  sinkCpuPerMessage: number;
}

async function drainHoldfast(): Promise<HoldfastDrain> {
  return withInstallation(values.database, (installation) =>
    withStarted(
      () => new DnsStub().start(),
      (dns) => dns.stop(),
      async (dns) => {
        const { dir, store } = installation;
        writeFileSync(
          join(dir, 'holdfast.toml'),
          `[smtp]\nmax_connections_per_ip = 100\n[queue]\nretry = ["30m"]\n[[relay]]\ndomains = ["sink.example"]\nurl = "smtp://127.0.0.1:${sinkPort}"\n`,
        );
        // sink.example is passed on (internal relay), so port 25 accepts it and the relay route sends it on.
        installation.cli(['domain', 'add', 'sink.example', '--type', 'internal-relay']);
        const server = await installation.start(
          { HOLDFAST_CONFIG: join(dir, 'holdfast.toml'), HOLDFAST_DNS_SERVERS: dns.server },
          { workers: values.workers },
        );
        const count = async (state: string) =>
          (await store.query<{ n: number }>('select count(*) as n from queue_recipients where state = ?', state))[0]!.n;
        await smtpSource({ port: server.port('smtp'), messages, sessions: 20, size: 5120, to: recipient });
        await waitFor(async () => (await count('deferred')) >= messages, 600_000);
        return withSink(async (sink) => {
          await new Promise((r) => setTimeout(r, 300));
          const cpuBefore = server.cpuSeconds();
          const sinkCpuBefore = sink.cpuSeconds();
          const started = performance.now();
          installation.cli(['queue', 'retry', '--domain', 'sink.example']);
          const progress = setInterval(
            async () =>
              process.stderr.write(
                `  holdfast: ${await count('delivered')} delivered, ${await count('deferred')} deferred, ${await count('inflight')} in flight\n`,
              ),
            5000,
          );
          const done = await waitFor(async () => (await count('delivered')) >= messages, 600_000)
            .catch(async (error) => {
              const replies = await store.query(
                'select state, substr(last_reply, 1, 160) as reply, count(*) as n from queue_recipients where state != ? group by 1, 2 order by 3 desc limit 5',
                'delivered',
              );
              throw new Error(`${error.message}; not delivered: ${JSON.stringify(replies)}`);
            })
            .finally(() => clearInterval(progress));
          return {
            rate: messages / ((done - started) / 1000),
            cpuPerMessage: ((server.cpuSeconds() - cpuBefore) * 1000) / messages,
            sinkCpuPerMessage: ((sink.cpuSeconds() - sinkCpuBefore) * 1000) / messages,
          };
        });
      },
    ),
  );
}

console.log(
  `queue-drain: ${messages} messages of 5 KB queued while the destination was down, then drained to smtp-sink; Holdfast with --workers ${values.workers}`,
);
const peer = await drainPostfix();
const ours = await drainHoldfast();
console.log('');
console.log(`Postfix            ${peer.toFixed(0).padStart(6)} msg/s`);
console.log(`${`Holdfast (${storeName(values.database)})`.padEnd(19)}${ours.rate.toFixed(0).padStart(6)} msg/s`);
console.log(`ratio              ${(ours.rate / peer).toFixed(2).padStart(6)}`);
// What the machine's cores allow at these costs, whatever the number of processes (PostgreSQL's
// backends, if any, not counted): the server and the sink share the same cores.
const perMessage = ours.cpuPerMessage + ours.sinkCpuPerMessage;
const ceiling = (availableParallelism() * 1000) / perMessage;
console.log(
  `Holdfast CPU per message drained ${ours.cpuPerMessage.toFixed(2)} ms (all processes), smtp-sink ${ours.sinkCpuPerMessage.toFixed(2)} ms; ` +
    `${availableParallelism()} cores allow at most ${ceiling.toFixed(0)} msg/s (${(ceiling / peer).toFixed(2)} × Postfix; goal with every core: 2 ×)`,
);
