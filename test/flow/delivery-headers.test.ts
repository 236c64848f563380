// Final delivery adds Return-Path (the envelope sender) and Delivered-To (the mailbox reached, after
// alias and group expansion) on top of the stored message, as RFC 5321 §4.4 and Postfix's local(8)
// do; a Return-Path the message brought along is dropped on receipt, as Postfix's cleanup(8) does.
// IMAP sizes and structure stay those of the stored bytes, and a redelivery adds no second copy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`Return-Path and Delivered-To on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name, { toml: '[queue]\npoll_interval = "100ms"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      await tenant.addAlias('al@test.example', 'alice@test.example');
      await tenant.addPrincipal({ kind: 'group', address: 'team@test.example' });
      await tenant.addGroupMember('team@test.example', 'al@test.example');
      await tenant.addGroupMember('team@test.example', 'bob@test.example');
    });
    after(() => t.stop());

    async function send(from: string, to: string[], text: string) {
      const { talk } = await SmtpTalk.open(t.port('smtp'));
      await talk.send('EHLO client.remote.example');
      assert.equal(await talk.send(`MAIL FROM:<${from}>`), '250 2.1.0 Accepted');
      for (const rcpt of to) assert.match(await talk.send(`RCPT TO:<${rcpt}>`), /^250 /);
      assert.match(await talk.data(text), /^250 2\.0\.0 Ok: queued as \d+$/);
      talk.close();
    }
    const arrived = (address: string, subject: string) =>
      t.waitFor(
        async () => (await t.mailbox(address)).find((m) => m.text.includes(`Subject: ${subject}`)),
        `${subject} for ${address}`,
      );

    it('adds Return-Path and Delivered-To of the final mailbox, through aliases and groups', async () => {
      await send(
        'Sender@Remote.example',
        ['al@test.example', 'team@test.example'],
        'From: sender@remote.example\r\nSubject: expanded\r\n\r\nHi.\r\n',
      );
      for (const mailbox of ['alice@test.example', 'bob@test.example']) {
        const message = await arrived(mailbox, 'expanded');
        assert.match(
          message.text,
          new RegExp(
            `^Return-Path: <sender@remote\\.example>\\r\\nDelivered-To: ${mailbox.replace('.', '\\.')}\\r\\nReceived: from `,
          ),
        );
      }
    });

    it('writes <> for the null sender, and replaces a Return-Path the message brought along', async () => {
      await send(
        '',
        ['alice@test.example'],
        'Return-Path: <forged@elsewhere.example>\r\nFrom: MAILER-DAEMON@remote.example\r\nReturn-path:\r\n <another@elsewhere.example>\r\nSubject: a bounce\r\n\r\nReturn-Path: <in the body stays>\r\n',
      );
      const message = await arrived('alice@test.example', 'a bounce');
      assert.match(message.text, /^Return-Path: <>\r\nDelivered-To: alice@test\.example\r\nReceived: /);
      assert.equal(message.text.match(/^Return-Path:/gim)!.length, 2, 'ours, and the line in the body');
      assert.doesNotMatch(message.text, /elsewhere\.example/);
      assert.match(
        message.text,
        /\r\nFrom: MAILER-DAEMON@remote\.example\r\nSubject: a bounce\r\n\r\nReturn-Path: <in the body stays>\r\n$/,
      );
    });

    it('keeps IMAP sizes and structure those of the stored bytes', async () => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: t.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'bob@test.example', pass: password },
        logger: false,
      });
      await client.connect();
      try {
        await client.mailboxOpen('INBOX');
        const messages = [];
        for await (const m of client.fetch('1:*', {
          size: true,
          source: true,
          bodyStructure: true,
          headers: ['return-path', 'delivered-to'],
        }))
          messages.push(m);
        const [message] = messages;
        assert.ok(message);
        assert.equal(message.size, message.source!.length, 'RFC822.SIZE is the size of what FETCH BODY[] returns');
        const source = message.source!.toString('utf8');
        assert.match(source, /^Return-Path: <sender@remote\.example>\r\nDelivered-To: bob@test\.example\r\n/);
        assert.equal(
          message.bodyStructure!.size,
          Buffer.byteLength(source.slice(source.indexOf('\r\n\r\n') + 4)),
          'the body size in BODYSTRUCTURE',
        );
        assert.equal(
          message.headers!.toString('utf8'),
          'Return-Path: <sender@remote.example>\r\nDelivered-To: bob@test.example\r\n\r\n',
        );
      } finally {
        await client.logout();
      }
    });

    it('adds no second copy when a delivery is run again', async () => {
      await send(
        'sender@remote.example',
        ['bob@test.example'],
        'From: sender@remote.example\r\nSubject: once only\r\n\r\nHi.\r\n',
      );
      await arrived('bob@test.example', 'once only');
      const { db } = t.node.holdfast.store;
      // As after a crash between the append and forgetting the lease: the recipient is due again.
      const row = await db
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select('r.id')
        .where('m.subject', '=', 'once only')
        .executeTakeFirstOrThrow();
      await db
        .updateTable('queue_recipients')
        .set({ state: 'queued', next_attempt_at: 0, lease_owner: null, lease_expires_at: null })
        .where('id', '=', row.id)
        .execute();
      t.node.holdfast.flow.newMail.raise();
      await t.waitFor(
        async () =>
          (await db.selectFrom('queue_recipients').select('state').where('id', '=', row.id).executeTakeFirst())
            ?.state === 'delivered',
        'delivered again',
      );
      assert.equal(
        (await t.mailbox('bob@test.example')).filter((m) => m.text.includes('Subject: once only')).length,
        1,
      );
    });
  });
}
