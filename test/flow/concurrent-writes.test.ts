// Many writers at once on PostgreSQL: local deliveries from 20 SMTP sessions into 20 mailboxes while
// IMAP clients APPEND, STORE and MOVE (both ways between two folders) in some of the same mailboxes.
// Transactions that lock the same folder rows in different orders deadlock on PostgreSQL, and a
// delivery that failed on a deadlock waited for the retry schedule (issue 14 item 16): every message
// must be in its mailboxes within seconds, and the node must log nothing at warning level or above.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { postgresSkip } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Wonderland-42';
const mailboxes = Array.from({ length: 20 }, (_, i) => `box${String(i).padStart(2, '0')}@test.example`);
const sessions = 20;
const messagesPerSession = 15;
/** Users whose mailboxes IMAP clients write in while the mail arrives. */
const imapUsers = mailboxes.slice(0, 5);

interface LogRecord {
  level: number;
  msg: string;
  err?: { message?: string };
}

describe('concurrent writes on postgres', { skip: postgresSkip }, () => {
  let t: TestNode;
  const records: LogRecord[] = [];

  before(async () => {
    // Everything the node logs, as JSON lines, kept to be looked at after the run.
    const logger = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line)) });
    // The retry schedule is long on purpose: a delivery that waits for it fails the test.
    t = await startTestNode('postgres', {
      logger,
      toml: '[queue]\npoll_interval = "100ms"\nretry = ["10m"]\n[imap]\nplaintext_login = true\n',
    });
    const tenant = await t.node.holdfast.directory.tenant('default');
    await Promise.all(mailboxes.map((address) => tenant.addPrincipal({ kind: 'user', address, password })));
    records.length = 0; // what start-up says about its surroundings is not what this test looks at
  });
  after(async () => {
    await t?.stop();
  });

  it('delivers several hundred messages to 20 mailboxes while IMAP clients write in them, without a deadlock', async () => {
    const started = Date.now();
    let smtpDone = false;
    const imap = imapUsers.map((user) => imapWriters(t, user, () => smtpDone));
    const expected = new Map(mailboxes.map((m) => [m, 0]));
    await Promise.all(
      Array.from({ length: sessions }, async (_, s) => {
        const { talk } = await SmtpTalk.open(t.port('smtp'));
        assert.match(await talk.send('EHLO load.example'), /^250/);
        for (let i = 0; i < messagesPerSession; i++) {
          // One or two recipients, spread so that concurrent deliveries meet in the same mailboxes.
          const to = [
            ...new Set([mailboxes[(s + i) % mailboxes.length]!, mailboxes[(s * 7 + i * 3) % mailboxes.length]!]),
          ];
          assert.match(await talk.send('MAIL FROM:<sender@remote.example>'), /^250/);
          for (const rcpt of to) assert.match(await talk.send(`RCPT TO:<${rcpt}>`), /^250/);
          const reply = await talk.data(
            `From: sender@remote.example\r\nTo: ${to.join(', ')}\r\nSubject: load ${s}-${i}\r\nMessage-ID: <load-${s}-${i}@remote.example>\r\n\r\nmessage ${i} of session ${s}\r\n`,
          );
          assert.match(reply, /^250/);
          for (const rcpt of to) expected.set(rcpt, expected.get(rcpt)! + 1);
        }
        await talk.send('QUIT');
        talk.close();
      }),
    );
    smtpDone = true;
    const delivered = [...expected.values()].reduce((a, b) => a + b, 0);
    const appended = await Promise.all(imap);

    // Every message of each user — delivered or appended — in whichever folder the clients moved it to.
    imapUsers.forEach((user, i) => expected.set(user, expected.get(user)! + appended[i]!));
    const { db } = t.node.holdfast.store;
    const counts = async () => {
      const rows = await db
        .selectFrom('messages')
        .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
        .innerJoin('principals', 'principals.id', 'mailboxes.principal_id')
        .select(['principals.address', (eb) => eb.fn.countAll<number>().as('count')])
        .groupBy('principals.address')
        .execute();
      return new Map(rows.map((r) => [r.address, Number(r.count)]));
    };
    const loud = () =>
      records.filter((r) => r.level >= 40).map((r) => `${r.msg}${r.err?.message ? `: ${r.err.message}` : ''}`);
    const smtpMs = Date.now() - started;
    await t
      .waitFor(
        async () => {
          const now = await counts();
          return mailboxes.every((m) => now.get(m) === expected.get(m));
        },
        'every message in its mailbox',
        10_000,
      )
      .catch(async (error) => {
        const states = await db
          .selectFrom('queue_recipients')
          .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
          .groupBy('state')
          .execute();
        assert.fail(
          `${error.message} (sending took ${smtpMs} ms); queue: ${JSON.stringify(states)}; got ${JSON.stringify([...(await counts())])}; logged: ${loud().slice(0, 5).join('; ')}`,
        );
      });
    const elapsed = Date.now() - started;
    console.log(`${sessions * messagesPerSession} messages sent in ${smtpMs} ms, all in place after ${elapsed} ms`);

    assert.ok(delivered >= 400, `${delivered} deliveries`);
    assert.ok(
      appended.every((n) => n > 0),
      `IMAP appends per user: ${appended.join(', ')}`,
    );
    assert.deepEqual(loud(), [], 'nothing logged at warning level or above');
  });
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two clients on one user's mailbox until `done()`: one APPENDs to INBOX, changes flags on all of
 * it and MOVEs messages to Archive; the other MOVEs everything in Archive back to INBOX, so that
 * moves in both directions between the same two folders run at once. Resolves with the APPEND count.
 */
async function imapWriters(t: TestNode, user: string, done: () => boolean): Promise<number> {
  const connect = async (folder: string) => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: t.port('imap'),
      secure: false,
      doSTARTTLS: false,
      disableCompression: true,
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    await client.mailboxOpen(folder);
    return client;
  };
  const inbox = await connect('INBOX');
  const archive = await connect('Archive');
  let appended = 0;
  const forth = async () => {
    for (let round = 0; !done() || round < 3; round++) {
      await inbox.append('INBOX', `From: ${user}\r\nSubject: appended ${round}\r\n\r\nappended by IMAP\r\n`, [
        '\\Draft',
      ]);
      appended++;
      await inbox.noop();
      // The newest few messages: enough to meet deliveries in the folder's row, without a STORE
      // (and its FETCH responses) growing with the mailbox.
      const newest = `${Math.max(1, (inbox.mailbox as { exists: number }).exists - 4)}:*`;
      await inbox.messageFlagsAdd(newest, ['\\Flagged', `$round${round % 4}`]);
      await inbox.messageFlagsRemove(newest, ['\\Flagged']);
      if (round % 2 === 0 && (inbox.mailbox as { exists: number }).exists > 0)
        await inbox.messageMove('1:2', 'Archive');
      // A breath between rounds: the clients share the node's one thread, and a shared test machine.
      await pause(20);
    }
  };
  const back = async () => {
    while (!done()) {
      await archive.noop();
      if ((archive.mailbox as { exists: number }).exists > 0) await archive.messageMove('1:*', 'INBOX');
      else await pause(20);
    }
  };
  try {
    await Promise.all([forth(), back()]);
  } finally {
    await Promise.all([inbox.logout(), archive.logout()]);
  }
  return appended;
}
