// bench/imap-sync: what a Thunderbird-class client does with a large mailbox, against Holdfast and
// Dovecot (Debian's dovecot-imapd) in the same run, with a real client library (imapflow):
//
// 1. Seed one INBOX with --messages messages (2 KB each) by APPEND over 8 connections.
// 2. First sync: open the INBOX and FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE).
// 3. Resync after changes elsewhere (flags on 500 messages, 100 expunged): CONDSTORE
//    FETCH 1:* (UID FLAGS) (CHANGEDSINCE modseq), as a client that was offline does.
//
//   npm run bench:imap-sync -- [--messages 50000] [--database postgres://…]
import { ImapFlow } from 'imapflow';
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { withDovecot, withHoldfastImap } from './lib/imap-servers.ts';

const { values } = benchArgs(import.meta.url, { messages: { type: 'string', default: '50000' } });
const total = Number(values.messages);
const connections = 8;

interface Server {
  name: string;
  port: number;
  user: string;
  password: string;
}

const client = async (server: Server) => {
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: server.user, pass: server.password },
    logger: false,
  });
  await imap.connect();
  return imap;
};

function message(i: number): string {
  const body = `Message ${i} of the sync benchmark, with a line or two of text.\r\n`.repeat(28);
  return `From: sender${i % 50}@bench.example\r\nTo: reader@bench.example\r\nSubject: Sync benchmark ${i}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <sync-${i}@bench.example>\r\n\r\n${body}`;
}

async function measure(server: Server) {
  let started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const imap = await client(server);
      for (let i = c; i < total; i += connections) await imap.append('INBOX', message(i));
      await imap.logout();
    }),
  );
  const seedSeconds = (performance.now() - started) / 1000;

  const reader = await client(server);
  started = performance.now();
  const mailbox = await reader.mailboxOpen('INBOX');
  let fetched = 0;
  for await (const _ of reader.fetch('1:*', {
    uid: true,
    flags: true,
    envelope: true,
    bodyStructure: true,
    size: true,
  }))
    fetched++;
  const syncSeconds = (performance.now() - started) / 1000;
  const modseq = BigInt(mailbox.highestModseq ?? 0n);
  await reader.logout();

  const writer = await client(server);
  await writer.mailboxOpen('INBOX');
  await writer.messageFlagsAdd(`1:500`, ['\\Flagged']);
  await writer.messageDelete(`501:600`);
  await writer.logout();

  const again = await client(server);
  started = performance.now();
  await again.mailboxOpen('INBOX');
  let changed = 0;
  for await (const _ of again.fetch('1:*', { uid: true, flags: true }, { changedSince: modseq })) changed++;
  const resyncSeconds = (performance.now() - started) / 1000;
  await again.logout();
  process.stderr.write(
    `${server.name}: seeded ${total} in ${seedSeconds.toFixed(1)} s, first sync ${fetched} in ${syncSeconds.toFixed(2)} s, resync ${changed} changed in ${resyncSeconds.toFixed(2)} s\n`,
  );
  return { seedRate: total / seedSeconds, syncSeconds, resyncSeconds, fetched, changed };
}

const peer = await withDovecot({ lmtp: 24_926, imap: 14_345 }, (port) =>
  measure({ name: 'Dovecot', port, user: 'reader', password: 'bench' }),
);
const ours = await withHoldfastImap(
  { users: ['reader@bench.example'], password: 'Sync-Bench-Words-7', databaseUrl: values.database },
  (server) =>
    measure({
      name: 'Holdfast',
      port: server.port('imap'),
      user: 'reader@bench.example',
      password: 'Sync-Bench-Words-7',
    }),
);

console.log(
  `imap-sync: one INBOX of ${total} messages (2 KB); first sync FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE); resync with CHANGEDSINCE after 500 flag changes and 100 expunges`,
);
console.log('');
console.log('                    APPEND/s   first sync s   resync s');
console.log(
  `Dovecot             ${peer.seedRate.toFixed(0).padStart(8)} ${peer.syncSeconds.toFixed(2).padStart(14)} ${peer.resyncSeconds.toFixed(2).padStart(10)}`,
);
console.log(
  `${`Holdfast (${storeName(values.database)})`.padEnd(20)}${ours.seedRate.toFixed(0).padStart(8)} ${ours.syncSeconds.toFixed(2).padStart(14)} ${ours.resyncSeconds.toFixed(2).padStart(10)}`,
);
console.log(
  `ratio (time, lower is better)   ${(ours.syncSeconds / peer.syncSeconds).toFixed(2).padStart(14)} ${(ours.resyncSeconds / peer.resyncSeconds).toFixed(2).padStart(10)}`,
);
console.log(
  `messages seen: Dovecot ${peer.fetched} / ${peer.changed} changed, Holdfast ${ours.fetched} / ${ours.changed} changed`,
);
