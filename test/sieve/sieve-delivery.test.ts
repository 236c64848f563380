// Sieve at local delivery, end to end on both backends: mail from outside arrives by SMTP on the MX
// port (nodemailer), each user's active script files it, and what landed where is read back over
// IMAP (imapflow) and from the queue. Folders and flags, :create, discard, redirect (local, remote,
// :copy, and a loop between two users broken), reject with a DSN to the sender, editheader, a Sieve
// vacation reply under the RFC 3834 rules, and a failing script: mail to the INBOX, the owner told once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { activateScript, putScript } from '../../src/sieve/sieve-scripts.ts';
import { readBlob } from '../../src/store/blobs/blob-store.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const bob = 'bob@test.example';
const carol = 'carol@test.example';

for (const name of backendNames) {
  describe(`Sieve at local delivery on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    let sent = 0;
    const principalId = async (address: string) =>
      Number(
        (
          await j.t.node.holdfast.store.db
            .selectFrom('principals')
            .select('id')
            .where('address', '=', address)
            .executeTakeFirstOrThrow()
        ).id,
      );
    /** Stores the script as the user's active one. */
    const install = async (address: string, script: string, scriptName = 'rules') => {
      const db = j.t.node.holdfast.store.db;
      const id = await principalId(address);
      await putScript(db, id, scriptName, script, Date.now());
      await activateScript(db, id, scriptName, Date.now());
    };
    /** Mail from outside through the MX port, as written; resolves once the queue has finished with it. */
    const mx = async (from: string, to: string, headers: string, body = 'Hello\r\n') => {
      sent++;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: j.t.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      const raw = `From: ${from || 'someone@remote.example'}\r\nTo: ${to}\r\n${headers}Message-ID: <s${sent}.${Date.now()}@remote.example>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n${body}`;
      const info = await transport.sendMail({ envelope: { from, to: [to] }, raw });
      transport.close();
      assert.equal(info.rejected.length, 0);
      const messageId = /<(s\d+\.\d+@remote\.example)>/.exec(raw)![1]!;
      await j.t.waitFor(async () => (await unfinished(messageId)) === 0, `message ${sent} handled`);
      return messageId;
    };
    /** Recipients of this message (and of redirects made of it) not yet delivered or failed. */
    const unfinished = async (messageId: string) => {
      const rows = await j.t.node.holdfast.store.db
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.state', 'r.route'])
        .where('m.message_id', 'like', `%${messageId}%`)
        .execute();
      if (rows.length === 0) return 1;
      return rows.filter((r) => r.route === 'local' && r.state !== 'delivered' && r.state !== 'failed').length;
    };
    const folderOf = async (client: ImapFlow, folder: string, subject: string) => {
      const lock = await client.getMailboxLock(folder);
      try {
        const found: { flags: Set<string>; source: string }[] = [];
        for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true }))
          if (m.envelope?.subject === subject)
            found.push({ flags: m.flags ?? new Set(), source: m.source!.toString() });
        return found;
      } finally {
        lock.release();
      }
    };
    const queued = async (recipient: string) => {
      const { db, blobs } = j.t.node.holdfast.store;
      const rows = await db
        .selectFrom('queue_messages as m')
        .innerJoin('queue_recipients as r', 'r.message_id', 'm.id')
        .select(['m.sender', 'm.subject', 'm.blob_hash', 'm.prefix', 'r.route'])
        .where('r.recipient', '=', recipient)
        .orderBy('m.id')
        .execute();
      return Promise.all(
        rows.map(async (r) => ({ ...r, text: r.prefix + (await readBlob(blobs, r.blob_hash)).toString('utf8') })),
      );
    };

    before(async () => {
      j = await startJmapNode(name, [alice, bob, carol]);
    });
    after(() => j.t.stop());

    it('files by rules into folders with flags, creating one when told, and keeps the rest in the INBOX', async () => {
      await install(
        alice,
        `require ["fileinto", "mailbox", "imap4flags", "variables", "envelope"];
         if header :contains "list-id" "talk.remote.example" { fileinto :create :flags "\\\\Seen" "Lists/Talk"; stop; }
         if envelope :domain :is "from" "partner.example" { addflag "$Partner"; fileinto "Archive"; keep; }
         if header :matches "subject" "Invoice *" { fileinto :create "Invoices/\${1}"; }`,
      );
      await mx('list@remote.example', alice, 'List-Id: Talk <talk.remote.example>\r\nSubject: Weekly digest\r\n');
      await mx('dave@partner.example', alice, 'Subject: Contract\r\n');
      await mx('shop@remote.example', alice, 'Subject: Invoice 2026\r\n');
      await mx('erin@remote.example', alice, 'Subject: Just hello\r\n');
      await j.withImap(async (client) => {
        const talk = await folderOf(client, 'Lists/Talk', 'Weekly digest');
        assert.equal(talk.length, 1);
        assert.ok(talk[0]!.flags.has('\\Seen'));
        assert.equal((await folderOf(client, 'INBOX', 'Weekly digest')).length, 0);
        const archived = await folderOf(client, 'Archive', 'Contract');
        assert.ok(archived[0]!.flags.has('$Partner'));
        const kept = await folderOf(client, 'INBOX', 'Contract');
        assert.ok(kept[0]!.flags.has('$Partner'), 'keep takes the flags set before it');
        assert.equal((await folderOf(client, 'Invoices/2026', 'Invoice 2026')).length, 1);
        assert.equal((await folderOf(client, 'INBOX', 'Invoice 2026')).length, 0);
        assert.equal((await folderOf(client, 'INBOX', 'Just hello')).length, 1);
      }, alice);
    });

    it('tests the body of a message, decoded', async () => {
      await install(
        alice,
        'require ["body", "fileinto", "mailbox"]; if body :text :contains "coupon" { fileinto :create "Offers"; }',
      );
      const html = Buffer.from('<p>Your <b>coupon</b> inside</p>').toString('base64');
      await mx(
        'shop@remote.example',
        alice,
        'Subject: Deals\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n',
        `${html}\r\n`,
      );
      await j.withImap(async (client) => {
        assert.equal((await folderOf(client, 'Offers', 'Deals')).length, 1);
      }, alice);
    });

    it('files into the INBOX where the folder is missing and :create was not given', async () => {
      await install(alice, 'require "fileinto"; fileinto "Nowhere";');
      await mx('erin@remote.example', alice, 'Subject: To nowhere\r\n');
      await j.withImap(async (client) => {
        assert.equal((await folderOf(client, 'INBOX', 'To nowhere')).length, 1);
        assert.equal(
          (await client.list()).some((f) => f.path === 'Nowhere'),
          false,
        );
      }, alice);
    });

    it('discards, and redirects to a local user, to a remote address and with :copy', async () => {
      await install(
        alice,
        `require ["copy"];
         if header :is "subject" "Discard me" { discard; stop; }
         if header :is "subject" "For Bob" { redirect "${bob}"; stop; }
         if header :is "subject" "Copy out" { redirect :copy "frank@remote.example"; }`,
      );
      await mx('erin@remote.example', alice, 'Subject: Discard me\r\n');
      await mx('erin@remote.example', alice, 'Subject: For Bob\r\n');
      await mx('erin@remote.example', alice, 'Subject: Copy out\r\n');
      await j.withImap(async (client) => {
        assert.equal((await folderOf(client, 'INBOX', 'Discard me')).length, 0);
        assert.equal((await folderOf(client, 'INBOX', 'For Bob')).length, 0);
        assert.equal((await folderOf(client, 'INBOX', 'Copy out')).length, 1);
      }, alice);
      await j.withImap(async (client) => {
        const [forBob] = await folderOf(client, 'INBOX', 'For Bob');
        assert.ok(forBob);
        assert.match(forBob.source, /^Delivered-To: alice@test\.example\r$/m);
        assert.match(forBob.source, /^Return-Path: <erin@remote\.example>\r$/m, 'the envelope sender is kept');
      }, bob);
      const out = await queued('frank@remote.example');
      assert.equal(out.length, 1);
      assert.equal(out[0]!.route, 'remote');
      // Leaving for another domain, the envelope sender is rewritten by SRS (test/sieve/forwarding.test.ts).
      assert.match(out[0]!.sender, /^SRS0=[a-z2-7]{5}=[A-Z2-7]{2}=remote\.example=erin@test\.example$/);
      const discarded = await j.t.node.holdfast.store.db
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.state', 'r.last_reply'])
        .where('m.subject', '=', 'Discard me')
        .executeTakeFirstOrThrow();
      assert.equal(discarded.state, 'delivered');
      assert.match(String(discarded.last_reply), /discarded by alice@test\.example's Sieve script/);
    });

    it('breaks a redirect loop between two users: the message stays in an INBOX', async () => {
      await install(alice, `redirect "${bob}";`);
      await install(bob, `redirect "${alice}";`);
      await mx('erin@remote.example', alice, 'Subject: Round and round\r\n');
      await j.t.waitFor(async () => {
        const a = (await j.t.mailbox(alice)).filter((m) => m.text.includes('Round and round')).length;
        const b = (await j.t.mailbox(bob)).filter((m) => m.text.includes('Round and round')).length;
        return a + b === 1;
      }, 'the looping message kept once');
      await new Promise((r) => setTimeout(r, 300));
      const copies = await j.t.node.holdfast.store.db
        .selectFrom('queue_messages')
        .select('id')
        .where('subject', '=', 'Round and round')
        .execute();
      assert.ok(copies.length <= 3, `at most two redirects (${copies.length} queue entries)`);
      await install(bob, 'keep;');
    });

    it('rejects with a DSN to the sender, and never to the null sender', async () => {
      await install(
        alice,
        'require "reject"; if header :contains "subject" "sale" { reject "No sales mail, thank you."; }',
      );
      await mx('shop@remote.example', alice, 'Subject: Big sale\r\n');
      const dsns = await queued('shop@remote.example');
      assert.equal(dsns.length, 1);
      assert.equal(dsns[0]!.sender, '');
      assert.match(dsns[0]!.text, /No sales mail, thank you\./);
      await mx('', alice, 'Subject: Another sale\r\n');
      assert.equal((await j.t.mailbox(alice)).filter((m) => m.text.includes('Another sale')).length, 0);
    });

    it('stores the message as editheader left it', async () => {
      await install(
        alice,
        'require ["editheader"]; addheader "X-Filtered" "by rules"; deleteheader "x-tracking"; deleteheader "received";',
      );
      await mx('erin@remote.example', alice, 'Subject: Edited\r\nX-Tracking: 1234\r\n');
      const [stored] = (await j.t.mailbox(alice)).filter((m) => m.text.includes('Subject: Edited'));
      assert.ok(stored);
      assert.match(stored.text, /^X-Filtered: by rules\r$/m);
      assert.doesNotMatch(stored.text, /X-Tracking/);
      assert.match(stored.text, /^Received: /m, 'Received fields cannot be deleted');
      await j.withImap(async (client) => {
        const [m] = await folderOf(client, 'INBOX', 'Edited');
        assert.ok(m, 'IMAP reads the edited message');
      }, alice);
    });

    it('answers with a Sieve vacation reply once per sender, never to list mail', async () => {
      await install(
        carol,
        'require ["vacation"]; vacation :days 2 :subject "Away" :addresses ["team@test.example"] "Back on Monday.";',
      );
      await mx('gina@remote.example', carol, 'Subject: Question\r\n');
      await mx('gina@remote.example', carol, 'Subject: Question again\r\n');
      await mx('list@remote.example', carol, 'Subject: Digest\r\nList-Id: <l.remote.example>\r\n');
      await j.t.waitFor(async () => (await queued('gina@remote.example')).length > 0, 'the reply');
      await new Promise((r) => setTimeout(r, 300));
      const replies = await queued('gina@remote.example');
      assert.equal(replies.length, 1);
      assert.equal(replies[0]!.sender, '');
      assert.equal(replies[0]!.subject, 'Away');
      assert.match(replies[0]!.text, /^Auto-Submitted: auto-replied\r$/m);
      assert.match(replies[0]!.text, /Back on Monday\./);
      assert.equal((await queued('list@remote.example')).length, 0);
      // The mail itself is kept.
      assert.equal((await j.t.mailbox(carol)).filter((m) => m.text.includes('Subject: Question')).length, 2);
      // Past the :days, the same sender is answered again.
      j.t.clock.advance(3 * 86_400_000);
      await mx('gina@remote.example', carol, 'Subject: Third\r\n');
      await j.t.waitFor(async () => (await queued('gina@remote.example')).length === 2, 'the second reply');
    });

    it('delivers to the INBOX when the script fails, and tells the owner once', async () => {
      await install(bob, 'require ["include"]; include "missing"; discard;', 'broken');
      await mx('erin@remote.example', bob, 'Subject: First of two\r\n');
      await mx('erin@remote.example', bob, 'Subject: Second of two\r\n');
      const isNotice = (text: string) => /^Message-ID: <sieve-error-/m.test(text);
      await j.t.waitFor(async () => (await j.t.mailbox(bob)).some((m) => isNotice(m.text)), 'the notice');
      await new Promise((r) => setTimeout(r, 300));
      const inbox = await j.t.mailbox(bob);
      assert.equal(inbox.filter((m) => /Subject: (First|Second) of two/.test(m.text)).length, 2);
      const notices = inbox.filter((m) => isNotice(m.text));
      assert.equal(notices.length, 1);
      // Quoted-printable: soft line breaks joined.
      assert.match(notices[0]!.text.replace(/=\r\n/g, ''), /there is no personal script "missing"/);
    });
  });
}
