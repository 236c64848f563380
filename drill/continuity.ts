// npm run drill:continuity — the drill of issue 19 item 7, on loopback. The stand-in upstream is
// Debian's Postfix delivering over LMTP into Dovecot (bench/lib/peers.ts), behind a gate
// (lib/upstream-gate.ts) that answers `421 4.3.2 … resource forest …` while the outage lasts and
// lets `--limit` connections through at a time afterwards. Holdfast (the built program, SQLite or
// --database) is the gateway for contoso.example with short continuity intervals. The drill:
//   1. proves the upstream healthy, then starts the outage;
//   2. sends --messages messages from outside to the continuity users (imported from a mailbox export);
//   3. checks the event started by itself within activate_after + two probe intervals;
//   4. every user reads every message over IMAP (imapflow) during the event, and replies through
//      submission to the outside with a colleague in Cc: the reply must reach the outside at once;
//   5. ends the outage after --outage seconds; checks that the upstream's Dovecot mailboxes then hold
//      every message once (by Message-ID) plus the replies' copies for the colleagues, and that the
//      event closed.
// It prints time to detect, messages held, the replay's rate against the upstream's limit and the
// duplicates, and exits non-zero if a check fails. Everything it starts and writes goes on every way out.
//
//   npm run drill:continuity -- [--messages 1000] [--users 10] [--outage 90] [--limit 3] [--database postgres://…]
//
// Needs root (Postfix runs as a second instance) and the Debian packages postfix, dovecot-imapd and
// dovecot-lmtpd. Uses ports 2725, 24925 and 14345 on 127.0.0.1, plus free ports.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { benchArgs } from '../bench/lib/bench-args.ts';
import { withStarted } from '../bench/lib/cleanup.ts';
import { withInstallation } from '../bench/lib/holdfast-process.ts';
import { withMailPeers } from '../bench/lib/peers.ts';
import { DnsStub } from '../test/helpers/dns-stub.ts';
import { imapflowClient } from '../test/helpers/imapflow.ts';
import { submission } from '../test/helpers/submission.ts';
import { sleep, waitFor } from './lib/processes.ts';
import { RemoteSink } from './lib/remote-sink.ts';
import { UpstreamGate } from './lib/upstream-gate.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '1000' },
  users: { type: 'string', default: '10' },
  outage: { type: 'string', default: '90' },
  limit: { type: 'string', default: '3' },
});
const messages = Number(values.messages);
const userCount = Number(values.users);
const outageMs = Number(values.outage) * 1000;
const limit = Number(values.limit);
const activateAfterMs = 20_000;
const probeIntervalMs = 5_000;
const domain = 'contoso.example';
const outsider = 'sender@partner.example';
const users = Array.from({ length: userCount }, (_, i) => `user${String(i + 1).padStart(2, '0')}@${domain}`);
const peerPorts = { domain, smtpPort: 2_725, lmtpPort: 24_925, imapPort: 14_345 };

const log = (text: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const checks: { ok: boolean; text: string }[] = [];
function check(ok: boolean, text: string) {
  checks.push({ ok, text });
  log(`${ok ? 'ok  ' : 'FAIL'} ${text}`);
}

/** Message-IDs in a Maildir folder of the upstream's Dovecot (header only). */
function maildirIds(dir: string): string[] {
  const ids: string[] = [];
  for (const sub of ['new', 'cur']) {
    const path = join(dir, sub);
    if (!existsSync(path)) continue;
    for (const file of readdirSync(path)) {
      const head = readFileSync(join(path, file), 'latin1').split(/\r?\n\r?\n/, 1)[0]!;
      ids.push(/^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? `none:${file}`);
    }
  }
  return ids;
}

const peersDir = join(tmpdir(), 'holdfast-drill-continuity-peers');
await withMailPeers(peersDir, peerPorts, ({ postfix }) =>
  withStarted(
    async () => {
      const gate = new UpstreamGate(postfix.port, limit);
      const sink = new RemoteSink(0);
      const dns = await new DnsStub().start();
      return { gate, gatePort: await gate.start(), sink, sinkPort: await sink.start(), dns };
    },
    async ({ gate, sink, dns }) => {
      await gate.stop();
      await sink.stop();
      await dns.stop();
    },
    ({ gate, gatePort, sink, sinkPort, dns }) =>
      withInstallation(values.database, async (installation) => {
        const { dir, store } = installation;
        const mailDir = join(peersDir, 'dovecot', 'mail');
        const inboxIds = () => users.flatMap((u) => maildirIds(join(mailDir, u.split('@')[0]!)));
        writeFileSync(
          join(dir, 'holdfast.toml'),
          [
            '[smtp]',
            'max_connections_per_ip = 200',
            '[queue]',
            'retry = ["10s"]',
            '[continuity]',
            `activate_after = "${activateAfterMs / 1000}s"`,
            `probe_interval = "${probeIntervalMs / 1000}s"`,
            '[[continuity.upstream]]',
            'name = "stand-in"',
            `domains = ["${domain}"]`,
            `url = "smtp://127.0.0.1:${gatePort}"`,
            '[[relay]]',
            'domains = ["partner.example"]',
            `url = "smtp://127.0.0.1:${sinkPort}"`,
            '',
          ].join('\n'),
        );
        installation.cli(['domain', 'add', domain]);
        const csv = join(dir, 'users.csv');
        writeFileSync(
          csv,
          `"DisplayName","PrimarySmtpAddress","EmailAddresses"\n${users
            .map((u) => `"${u.split('@')[0]}","${u}","SMTP:${u}"`)
            .join('\n')}\n`,
        );
        const passwordsFile = join(dir, 'passwords.csv');
        installation.cli(['continuity', 'user', 'import', csv, '--passwords', passwordsFile]);
        const passwords = new Map(
          readFileSync(passwordsFile, 'utf8')
            .trim()
            .split('\n')
            .slice(1)
            .map((line) => line.split(',') as [string, string]),
        );
        const server = await installation.start({
          HOLDFAST_CONFIG: join(dir, 'holdfast.toml'),
          HOLDFAST_DNS_SERVERS: dns.server,
          HOLDFAST_SUBMISSIONS_PORT: '0',
          HOLDFAST_IMAPS_PORT: '0',
        });
        const event = async () =>
          (
            await store.query<{ id: number; state: string; started_by: string; started_at: number; ended_at: number }>(
              'select id, state, started_by, started_at, ended_at from continuity_events order by id desc limit 1',
            )
          )[0];

        // 1. The upstream answers; then the outage starts.
        await waitFor(
          'a first successful probe of the upstream',
          async () =>
            (
              await store.query<{ n: number }>(
                'select count(*) as n from continuity_upstreams where last_success_at is not null',
              )
            )[0]!.n > 0 || undefined,
        );
        log(`upstream healthy (Postfix + Dovecot behind the gate on 127.0.0.1:${gatePort}); the outage starts`);
        gate.fail();
        const outageAt = Date.now();

        // 2. Mail arrives from outside during the outage.
        const mx = nodemailer.createTransport({
          host: '127.0.0.1',
          port: server.port('smtp'),
          ignoreTLS: true,
          pool: true,
          maxConnections: 10,
          maxMessages: 100,
        });
        const sent = new Map<string, string[]>(users.map((u) => [u, []]));
        const sendStarted = Date.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            for (let i = next++; i < messages; i = next++) {
              const to = users[i % users.length]!;
              const messageId = `<held-${i}@partner.example>`;
              await mx.sendMail({
                envelope: { from: outsider, to },
                from: outsider,
                to,
                subject: `held ${i}`,
                messageId,
                text: `Message ${i} of the continuity drill, sent while the upstream was down.\n${'x'.repeat(1500)}\n`,
              });
              sent.get(to)!.push(messageId);
            }
          }),
        );
        mx.close();
        log(`${messages} messages accepted by Holdfast in ${((Date.now() - sendStarted) / 1000).toFixed(1)} s`);

        // 3. The event starts by itself.
        const started = await waitFor(
          'the continuity event to start',
          async () => {
            const e = await event();
            return e && e.state !== 'closed' ? e : undefined;
          },
          activateAfterMs + 4 * probeIntervalMs,
        ).catch(() => undefined);
        const detectMs = started ? Number(started.started_at) - outageAt : Number.NaN;
        const detectGoal = activateAfterMs + 2 * probeIntervalMs;
        check(
          started?.started_by === 'automatic' && detectMs <= detectGoal,
          `event started by itself ${(detectMs / 1000).toFixed(1)} s after the outage began (activate_after ${activateAfterMs / 1000} s + 2 probe intervals of ${probeIntervalMs / 1000} s = ${detectGoal / 1000} s)`,
        );
        if (!started) throw new Error('no continuity event: the rest of the drill cannot run');

        // 4. Users read every message over IMAP during the event, and reply.
        const readStarted = Date.now();
        let read = 0;
        let unread = 0;
        for (const user of users) {
          const client = imapflowClient(server.port('imaps'), user, passwords.get(user)!);
          await client.connect();
          try {
            const expected = sent.get(user)!;
            const seen = await waitFor(
              `${user} to have ${expected.length} messages`,
              async () => {
                const lock = await client.getMailboxLock('INBOX');
                try {
                  if (!client.mailbox || client.mailbox.exists < expected.length) return undefined;
                  const ids: string[] = [];
                  for await (const m of client.fetch('1:*', { envelope: true })) ids.push(m.envelope!.messageId!);
                  return ids;
                } finally {
                  lock.release();
                }
              },
              120_000,
            );
            const have = new Set(seen);
            read += expected.filter((id) => have.has(id)).length;
            unread += expected.filter((id) => !have.has(id)).length;
          } finally {
            await client.logout();
          }
        }
        check(
          read === messages && unread === 0,
          `users read ${read} of ${messages} messages over IMAP during the event (${((Date.now() - readStarted) / 1000).toFixed(1)} s for ${users.length} users)`,
        );
        const replies = users.map((user, u) => ({
          user,
          cc: users[(u + 1) % users.length]!,
          messageId: `<reply-${u}@${domain}>`,
          inReplyTo: sent.get(user)![0]!,
        }));
        for (const reply of replies)
          await submission(server.port('submissions'), reply.user, passwords.get(reply.user)!).sendMail({
            from: reply.user,
            to: outsider,
            cc: reply.cc,
            subject: 'Re: held',
            messageId: reply.messageId,
            inReplyTo: reply.inReplyTo,
            text: 'Read on Holdfast while the upstream was down.\n',
          });
        const replyIds = replies.map((r) => r.messageId);
        const outside = await waitFor(
          'the replies to reach the outside',
          async () => (replyIds.every((id) => sink.transactions.has(id)) ? Date.now() : undefined),
          60_000,
        ).catch(() => undefined);
        check(
          outside !== undefined && (await event())?.state === 'active',
          `${replyIds.filter((id) => sink.transactions.has(id)).length} of ${replies.length} replies reached the outside during the event`,
        );
        const held = await waitFor(
          'the replies’ copies for colleagues',
          async () => {
            const n = Number(
              (
                await store.query<{ n: number }>(
                  'select count(*) as n from continuity_copies where event_id = ? and uid is not null',
                  started.id,
                )
              )[0]!.n,
            );
            return n >= messages + replies.length ? n : undefined;
          },
          60_000,
        ).catch(() => Number.NaN);
        log(`messages held (copied into Holdfast mailboxes): ${held}`);
        check(
          inboxIds().length === 0,
          `nothing reached the upstream's mailboxes during the outage (${gate.refusedDown} connections answered 421 4.3.2)`,
        );

        // 5. Recovery.
        await sleep(Math.max(0, outageMs - (Date.now() - outageAt)));
        gate.recover();
        gate.resetCounts();
        const recoveredAt = Date.now();
        log(`the upstream accepts again, ${limit} connections at a time (more are answered 421 4.3.2)`);
        const expected = messages + replies.length;
        const closed = await waitFor(
          'the event to close',
          async () => {
            const e = await event();
            return e?.state === 'closed' ? e : undefined;
          },
          600_000,
        ).catch(() => undefined);
        const drained = await waitFor(
          'the upstream to hold every message',
          async () => (postfix.queued() === 0 && inboxIds().length >= expected ? Date.now() : undefined),
          600_000,
        ).catch(() => undefined);
        await sleep(3000); // anything sent twice would arrive now
        const lastDelivery = Number(
          (
            await store.query<{ at: number }>(
              "select max(updated_at) as at from queue_recipients where domain = ? and state = 'delivered'",
              domain,
            )
          )[0]!.at,
        );
        const ids = inboxIds();
        const counts = new Map<string, number>();
        for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
        const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
        const wanted = [...[...sent.values()].flat(), ...replyIds];
        const missing = wanted.filter((id) => !counts.has(id));
        const stray = [...counts.keys()].filter((id) => !wanted.includes(id));
        const replaySeconds = (lastDelivery - recoveredAt) / 1000;
        check(
          closed !== undefined,
          `event ${closed ? `closed ${((Number(closed.ended_at) - recoveredAt) / 1000).toFixed(1)} s after the upstream recovered` : 'did not close'}`,
        );
        check(
          drained !== undefined && ids.length === expected && missing.length === 0 && stray.length === 0,
          `the upstream's mailboxes hold ${ids.length} messages: ${messages} held + ${replies.length} replies' copies expected, ${missing.length} missing, ${stray.length} unexpected${missing.length ? ` (${missing.slice(0, 3).join(', ')})` : ''}`,
        );
        check(
          twice.length === 0,
          `duplicates = ${twice.length}${twice.length ? ` (${twice.slice(0, 3).join(', ')})` : ''}`,
        );
        check(
          [...sink.transactions.values()].every((n) => n === 1),
          'each reply reached the outside once',
        );

        console.log('\nFigures');
        console.log(`  time to detect        ${(detectMs / 1000).toFixed(1)} s (goal ≤ ${detectGoal / 1000} s)`);
        console.log(`  messages held         ${held} (${messages} inbound + ${replies.length} replies' copies)`);
        console.log(
          `  replay                ${expected} messages in ${replaySeconds.toFixed(1)} s = ${(expected / replaySeconds).toFixed(1)} messages/s, ` +
            `upstream limit ${limit} connections at a time: at most ${gate.peak} open, ${gate.refusedBusy} connections answered 421 4.3.2 for exceeding it, ${gate.passed} let through`,
        );
        console.log(`  duplicates            ${twice.length}`);
        const failed = checks.filter((c) => !c.ok);
        console.log(failed.length ? `\nFAILED: ${failed.length} check(s)` : '\nAll checks passed.');
        process.exitCode = failed.length ? 1 : 0;
      }),
  ),
);
