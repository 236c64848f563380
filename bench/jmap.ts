// bench/jmap: what a JMAP client does with a large mailbox, against the same work over IMAP in the
// same run — Holdfast's own IMAP and Dovecot (Debian's dovecot-imapd) — and how fast push is:
//
// 1. One INBOX of --messages messages (2 KB each), written once as a Maildir: Holdfast gets them by
//    APPEND over 8 connections (each file's date as INTERNALDATE), Dovecot reads the files as its
//    mail location (indexed before measuring).
// 2. First page: the newest 50 with their envelopes. JMAP: one request, Email/query (inMailbox,
//    receivedAt descending, limit 50) + Email/get by reference (keywords, size, receivedAt, from, to,
//    subject, sentAt, messageId). IMAP: SELECT INBOX + FETCH of the last 50 (UID FLAGS ENVELOPE
//    RFC822.SIZE INTERNALDATE).
// 3. Resync after 500 flag changes (made over IMAP): JMAP Email/changes from the state before, then
//    Email/get of the changed ids' keywords (256 per call, maxObjectsInGet); IMAP SELECT (CONDSTORE)
//    + FETCH 1:* (UID FLAGS) (CHANGEDSINCE modseq), as a client back online does.
// 4. Push latency (Holdfast): --samples messages sent one at a time to its SMTP port; from the 250
//    that accepts DATA to the EventSource `state` event with the new EmailDelivery state, and, for
//    comparison, to the IMAP IDLE EXISTS of the same delivery.
//
// Each of 2 and 3 is run --repeat times on one signed-in client (HTTP keep-alive, one IMAP
// connection); the median and the slowest are printed, with the ratios JMAP / IMAP.
//
//   npm run bench:jmap -- [--messages 50000] [--repeat 20] [--samples 200] [--no-dovecot] [--database postgres://…]
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { dovecotInstalled, startDovecot } from '../test/helpers/dovecot.ts';
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { guarded, withStarted } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';
import { sendOneMessage } from './lib/smtp-load.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '50000' },
  repeat: { type: 'string', default: '20' },
  samples: { type: 'string', default: '200' },
  'no-dovecot': { type: 'boolean', default: false },
});
const total = Number(values.messages);
const repeat = Number(values.repeat);
const samples = Number(values.samples);
const user = 'reader@bench.example';
const password = 'Jmap-Bench-Words-7';
const pageSize = 50;
const flagChanges = Math.min(500, total);
const listProperties = [
  'id',
  'threadId',
  'mailboxIds',
  'keywords',
  'size',
  'receivedAt',
  'from',
  'to',
  'subject',
  'sentAt',
  'messageId',
];

interface Timing {
  median: number;
  max: number;
}
const timing = (ms: number[]): Timing => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)! };
};
const percentile = (ms: number[], q: number) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

async function timed(times: number, run: () => Promise<unknown>): Promise<Timing> {
  await run(); // warm: the first run reads what the others find cached, on every server alike
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
  }
  return timing(ms);
}

/** The messages as one Maildir (cur/), each file dated by its Date, one minute apart. */
function writeMaildir(dir: string) {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const start = Date.UTC(2026, 0, 1) / 1000;
  for (let i = 0; i < total; i++) {
    const seconds = start + i * 60;
    const body = `Message ${i} of the JMAP benchmark, with a line or two of text.\r\n`.repeat(28);
    const text = `From: sender${i % 50}@bench.example\r\nTo: ${user}\r\nSubject: JMAP benchmark ${i}\r\nDate: ${new Date(seconds * 1000).toUTCString()}\r\nMessage-ID: <jmap-${i}@bench.example>\r\n\r\n${body}`;
    const file = join(dir, 'cur', `${seconds}.M${i}P1.bench,S=${Buffer.byteLength(text)}:2,`);
    writeFileSync(file, text);
    utimesSync(file, seconds, seconds);
  }
}

interface ImapFigures {
  firstPage: Timing;
  resync: Timing;
  changed: number;
}

const imapClient = (port: number, login: string, secret: string) =>
  new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: login, pass: secret },
    logger: false,
  });

/** Steps 2 and 3 over IMAP; `change` makes the 500 flag changes (on this server) between them. */
async function measureImap(port: number, login: string, secret: string): Promise<ImapFigures> {
  const imap = imapClient(port, login, secret);
  await imap.connect();
  try {
    const firstPage = await timed(repeat, async () => {
      const box = await imap.mailboxOpen('INBOX');
      let n = 0;
      for await (const _ of imap.fetch(`${Math.max(1, box.exists - pageSize + 1)}:*`, {
        uid: true,
        flags: true,
        envelope: true,
        size: true,
        internalDate: true,
      }))
        n++;
      if (n !== Math.min(pageSize, total)) throw new Error(`IMAP first page: ${n} messages`);
    });
    const box = await imap.mailboxOpen('INBOX');
    const modseq = BigInt(box.highestModseq ?? 0n);
    await imap.messageFlagsAdd(`1:${flagChanges}`, ['\\Flagged']);
    await imap.mailboxClose();
    let changed = 0;
    const resync = await timed(repeat, async () => {
      await imap.mailboxOpen('INBOX');
      changed = 0;
      for await (const _ of imap.fetch('1:*', { uid: true, flags: true }, { changedSince: modseq })) changed++;
    });
    return { firstPage, resync, changed };
  } finally {
    await imap.logout().catch(() => imap.close());
  }
}

/** A JMAP API call over one keep-alive connection. */
function jmapClient(base: string) {
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
  // biome-ignore lint/suspicious/noExplicitAny: the bench reads the few fields it needs
  const call = async (methodCalls: unknown[]): Promise<any[]> => {
    const response = await fetch(`${base}/jmap/api/`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using, methodCalls }),
    });
    if (response.status !== 200) throw new Error(`JMAP ${response.status}: ${await response.text()}`);
    const { methodResponses } = (await response.json()) as { methodResponses: [string, Record<string, unknown>][] };
    for (const [name, args] of methodResponses)
      if (name === 'error') throw new Error(`JMAP error ${JSON.stringify(args)}`);
    return methodResponses.map(([, args]) => args);
  };
  return { auth, call };
}

/** An EventSource over node:http: each `state` event's arrival time and its StateChange. */
function eventSource(url: string, auth: string) {
  const waiting: ((at: number, data: string) => void)[] = [];
  let buffer = '';
  const request = httpRequest(url, { headers: { Authorization: auth } }, (response) => {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      const at = performance.now();
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith('event: state')) continue;
        const data = block
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6);
        waiting.shift()?.(at, data);
      }
    });
  });
  request.end();
  return {
    next: () =>
      new Promise<{ at: number; data: string }>((resolve) => waiting.push((at, data) => resolve({ at, data }))),
    close: () => request.destroy(),
  };
}

/** Sends one message to `port` (MX intake); resolves with the time its DATA was accepted (250). */
async function sendOne(port: number, i: number): Promise<number> {
  const body = `From: push@sender.example\r\nTo: ${user}\r\nSubject: push probe ${i}\r\n\r\nProbe ${i}.`;
  return (await sendOneMessage(port, user, body, 'push@sender.example')).acceptedAt;
}

interface HoldfastFigures {
  jmapFirstPage: Timing;
  jmapResync: Timing;
  jmapChangesOnly: Timing;
  jmapChanged: number;
  imap: ImapFigures;
  push: { p50: number; p99: number; max: number; min: number };
  idle: { p50: number; p99: number; max: number };
  importSeconds: number;
}

async function measureHoldfast(maildir: string): Promise<HoldfastFigures> {
  return withInstallation(values.database, async (installation) => {
    const config = join(installation.dir, 'holdfast.toml');
    writeFileSync(config, '[imap]\nplaintext_login = true\n[limits]\nmessages_per_minute = 100000\n');
    installation.cli(['user', 'add', user, '--password', password]);
    return withStarted(
      () => new DnsStub().start(),
      (dns) => dns.stop(),
      async (dns) => {
        const server = await installation.start({
          HOLDFAST_CONFIG: config,
          HOLDFAST_IMAP_PORT: '0',
          HOLDFAST_HTTP_PORT: '0',
          HOLDFAST_DNS_SERVERS: dns.server,
        });
        // Seeded by APPEND over 8 connections (with each file's date as INTERNALDATE), as bench/imap-sync.
        const started = performance.now();
        const files = readdirSync(join(maildir, 'cur')).sort(
          (a, b) => Number(a.split('.')[0]) - Number(b.split('.')[0]),
        );
        await Promise.all(
          Array.from({ length: 8 }, async (_, c) => {
            const appender = imapClient(server.port('imap'), user, password);
            await appender.connect();
            for (let i = c; i < files.length; i += 8) {
              const file = files[i]!;
              await appender.append(
                'INBOX',
                readFileSync(join(maildir, 'cur', file)),
                [],
                new Date(Number(file.split('.')[0]) * 1000),
              );
            }
            await appender.logout();
          }),
        );
        const importSeconds = (performance.now() - started) / 1000;
        const base = `http://127.0.0.1:${server.port('http')}`;
        const jmap = jmapClient(base);
        const session = (await (
          await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: jmap.auth } })
        ).json()) as {
          primaryAccounts: Record<string, string>;
        };
        const accountId = session.primaryAccounts['urn:ietf:params:jmap:mail']!;
        const [boxes] = await jmap.call([['Mailbox/get', { accountId, ids: null, properties: ['role'] }, 'm']]);
        const inbox = (boxes.list as { id: string; role: string }[]).find((m) => m.role === 'inbox')!.id;

        const jmapFirstPage = await timed(repeat, async () => {
          const [, got] = await jmap.call([
            [
              'Email/query',
              {
                accountId,
                filter: { inMailbox: inbox },
                sort: [{ property: 'receivedAt', isAscending: false }],
                limit: pageSize,
              },
              'q',
            ],
            [
              'Email/get',
              { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: listProperties },
              'g',
            ],
          ]);
          if (got.list.length !== Math.min(pageSize, total)) throw new Error(`JMAP first page: ${got.list.length}`);
        });
        const [before] = await jmap.call([['Email/get', { accountId, ids: [] }, 's']]);
        const sinceState = before.state as string;

        // The IMAP side makes the 500 flag changes (between its own first page and resync).
        const imap = await measureImap(server.port('imap'), user, password);

        const jmapChangesOnly = await timed(repeat, () =>
          jmap.call([['Email/changes', { accountId, sinceState }, 'c']]),
        );
        let jmapChanged = 0;
        const jmapResync = await timed(repeat, async () => {
          const [changes] = await jmap.call([['Email/changes', { accountId, sinceState }, 'c']]);
          if (changes.hasMoreChanges) throw new Error('Email/changes has more changes');
          const ids = [...changes.created, ...changes.updated] as string[];
          const calls = [];
          for (let at = 0; at < ids.length; at += 256)
            calls.push(['Email/get', { accountId, ids: ids.slice(at, at + 256), properties: ['keywords'] }, `g${at}`]);
          const got = calls.length ? await jmap.call(calls) : [];
          jmapChanged = got.reduce((n, g) => n + g.list.length, 0);
        });

        // Push: one message at a time; the EventSource and an IDLE session hear the same delivery.
        const events = eventSource(`${base}/jmap/eventsource/?types=EmailDelivery&closeafter=no&ping=0`, jmap.auth);
        await events.next(); // the states as the connection opens
        const idler = imapClient(server.port('imap'), user, password);
        await idler.connect();
        await idler.mailboxOpen('INBOX');
        void idler.idle();
        let existsWaiter: ((at: number) => void) | undefined;
        idler.on('exists', () => existsWaiter?.(performance.now()));
        const pushMs: number[] = [];
        const idleMs: number[] = [];
        for (let i = 0; i < samples; i++) {
          const pushed = events.next();
          const idled = new Promise<number>((resolve) => {
            existsWaiter = resolve;
          });
          const accepted = await sendOne(server.port('smtp'), i);
          const [event, exists] = await Promise.all([pushed, idled]);
          pushMs.push(event.at - accepted);
          idleMs.push(exists - accepted);
          await new Promise((r) => setTimeout(r, 20));
        }
        events.close();
        await idler.logout().catch(() => idler.close());
        return {
          jmapFirstPage,
          jmapResync,
          jmapChangesOnly,
          jmapChanged,
          imap,
          push: {
            p50: percentile(pushMs, 0.5),
            p99: percentile(pushMs, 0.99),
            max: Math.max(...pushMs),
            min: Math.min(...pushMs),
          },
          idle: { p50: percentile(idleMs, 0.5), p99: percentile(idleMs, 0.99), max: Math.max(...idleMs) },
          importSeconds,
        };
      },
    );
  });
}

async function measureDovecot(maildir: string): Promise<ImapFigures> {
  const dovecot = await startDovecot({ name: 'bench-jmap', password: 'bench', imapPort: 'free' });
  return guarded(
    () => dovecot.stop(),
    async () => {
      // Dovecot's mail location is a Maildir per user: the same files, owned by its mail user.
      const home = dovecot.maildir('reader');
      cpSync(maildir, home, { recursive: true });
      const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody']).toString().trim());
      const nobody = { uid: id('-u'), gid: id('-g') };
      const own = (path: string) => {
        chownSync(path, nobody.uid, nobody.gid);
        for (const entry of readdirSync(path, { withFileTypes: true })) {
          const child = join(path, entry.name);
          if (entry.isDirectory()) own(child);
          else chownSync(child, nobody.uid, nobody.gid);
        }
      };
      own(home);
      // Dovecot indexes the Maildir at the first SELECT; a server in use has its index already.
      const warm = imapClient(dovecot.imapPort, 'reader', 'bench');
      await warm.connect();
      await warm.mailboxOpen('INBOX');
      for await (const _ of warm.fetch('1:*', { uid: true, flags: true, envelope: true, size: true })) {
      }
      await warm.logout();
      return measureImap(dovecot.imapPort, 'reader', 'bench');
    },
  );
}

const root = mkdtempSync(join(tmpdir(), 'holdfast-bench-jmap-'));
const figures = await guarded(
  () => rmSync(root, { recursive: true, force: true }),
  async () => {
    const maildir = join(root, 'maildir');
    let started = performance.now();
    writeMaildir(maildir);
    process.stderr.write(`wrote ${total} messages in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    started = performance.now();
    const ours = await measureHoldfast(maildir);
    process.stderr.write(
      `Holdfast measured in ${((performance.now() - started) / 1000).toFixed(1)} s (seeded by APPEND in ${ours.importSeconds.toFixed(1)} s)\n`,
    );
    const peer = values['no-dovecot'] || !dovecotInstalled ? undefined : await measureDovecot(maildir);
    return { ours, peer };
  },
);

const { ours, peer } = figures;
const ms = (t: Timing) => `${t.median.toFixed(1).padStart(8)} ${t.max.toFixed(1).padStart(8)}`;
const ratio = (a: Timing, b: Timing) => (a.median / b.median).toFixed(2);
console.log(
  `jmap: one INBOX of ${total} messages (2 KB); Holdfast on ${storeName(values.database)}; medians and slowest of ${repeat} runs, in ms`,
);
console.log('');
console.log('                                        median  slowest');
console.log(`first page  JMAP Email/query+get (Holdfast) ${ms(ours.jmapFirstPage)}`);
console.log(`            IMAP SELECT+FETCH (Holdfast)    ${ms(ours.imap.firstPage)}`);
if (peer) console.log(`            IMAP SELECT+FETCH (Dovecot)     ${ms(peer.firstPage)}`);
console.log(`resync      JMAP Email/changes+get (Holdfast) ${ms(ours.jmapResync)}`);
console.log(`              of which Email/changes alone  ${ms(ours.jmapChangesOnly)}`);
console.log(`            IMAP CONDSTORE (Holdfast)       ${ms(ours.imap.resync)}`);
if (peer) console.log(`            IMAP CONDSTORE (Dovecot)        ${ms(peer.resync)}`);
console.log('');
console.log(
  `ratios (time, JMAP / IMAP): first page ${ratio(ours.jmapFirstPage, ours.imap.firstPage)} vs Holdfast IMAP${peer ? `, ${ratio(ours.jmapFirstPage, peer.firstPage)} vs Dovecot` : ''}; resync ${ratio(ours.jmapResync, ours.imap.resync)} vs Holdfast IMAP${peer ? `, ${ratio(ours.jmapResync, peer.resync)} vs Dovecot` : ''}`,
);
console.log(
  `changes seen: JMAP ${ours.jmapChanged}, Holdfast IMAP ${ours.imap.changed}${peer ? `, Dovecot ${peer.changed}` : ''} (of ${flagChanges})`,
);
console.log(
  `push (${samples} messages, SMTP 250 to event): EventSource p50 ${ours.push.p50.toFixed(1)} ms, p99 ${ours.push.p99.toFixed(1)} ms, max ${ours.push.max.toFixed(1)} ms (min ${ours.push.min.toFixed(1)}); IMAP IDLE EXISTS p50 ${ours.idle.p50.toFixed(1)} ms, p99 ${ours.idle.p99.toFixed(1)} ms`,
);
