// The CPU Holdfast's own process spends talking to the scanners, per message (issue 23): the same
// 5 KB message scanned N times by rspamd's /checkv2 and clamd's INSTREAM through Holdfast's clients
// (filtering/rspamd-client.ts, clamd-client.ts), and, for comparison, by /checkv2 through Node's fetch
// (how the rspamd client was written before). CPU is this process's user + system time
// (process.cpuUsage), so the scanners' own work, which runs in their processes, is not counted.
//
//   node --import tsx bench/filtering-client.ts [--messages 1000] [--concurrency 4]
import { parseArgs } from 'node:util';
import { ClamdClient } from '../src/filtering/clamd-client.ts';
import { RspamdClient } from '../src/filtering/rspamd-client.ts';
import { startEngines } from '../test/filtering/scan-engines.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const messages = Number(values.messages);
const concurrency = Number(values.concurrency);

const body = 'The quarterly figures are attached below; tell me what you think.\r\n'.repeat(75);
const message = Buffer.from(
  `Received: from mx.remote.example ([198.51.100.25])\r\n\tby mx.test.example (Holdfast) with ESMTP id bench;\r\n\t${new Date().toUTCString()}\r\nFrom: Ann <ann@remote.example>\r\nTo: bob@test.example\r\nSubject: Figures\r\nMessage-ID: <bench@remote.example>\r\nDate: ${new Date().toUTCString()}\r\n\r\n${body}`,
);
const envelope = {
  clientIp: '198.51.100.25',
  helo: 'mx.remote.example',
  hostname: 'mx.remote.example',
  sender: 'ann@remote.example',
  recipients: ['bob@test.example'],
  queueId: 'bench',
};

const engines = await startEngines();
if (engines.skip) throw new Error(engines.skip);
const rspamd = new RspamdClient({ url: new URL(engines.rspamd!.url), timeoutMs: 60_000 });
const clamd = new ClamdClient({ host: '127.0.0.1', port: engines.clamd!.port }, 60_000);

/** The rspamd client as it was: Node's fetch. */
async function checkWithFetch() {
  const headers = new Headers({
    IP: envelope.clientIp,
    From: envelope.sender,
    Helo: envelope.helo,
    Hostname: envelope.hostname,
    'Queue-Id': envelope.queueId,
  });
  for (const rcpt of envelope.recipients) headers.append('Rcpt', rcpt);
  const response = await fetch(new URL('/checkv2', engines.rspamd!.url), {
    method: 'POST',
    body: message as Uint8Array<ArrayBuffer>,
    headers,
    signal: AbortSignal.timeout(60_000),
  });
  JSON.parse(await response.text());
}

async function measure(name: string, scan: () => Promise<unknown>) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < messages) await scan();
    }),
  );
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      client: name,
      messages,
      cpuMsPerMessage: Math.round(((used.user + used.system) / 1000 / messages) * 1000) / 1000,
      messagesPerSecond: Math.round((messages / seconds) * 10) / 10,
    }),
  );
}

try {
  // Each twice, alternating, after a warm-up: the machine is shared.
  await measure('warm-up', () => rspamd.check(message, envelope));
  for (let round = 0; round < 2; round++) {
    await measure('rspamd: node:http (rspamd-client.ts)', () => rspamd.check(message, envelope));
    await measure('rspamd: fetch (as before)', checkWithFetch);
    await measure('clamd: INSTREAM (clamd-client.ts)', () => clamd.scan(message));
  }
} finally {
  await engines.stop();
}
