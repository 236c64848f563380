// Stable Email ids and conversation threads (RFC 8621 3, 4.1.1) through jmap-jam, with nodemailer
// delivering over SMTP submission and imapflow moving and copying: an Email keeps its id across IMAP
// MOVE and a JMAP mailboxIds move, a reply joins its original's thread (also when it arrives first),
// Thread/get lists a thread's Emails oldest first, Thread/changes follows them, Email/query
// collapses threads and Mailbox counts threads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type BasicJam, postApi } from './jmap-client.ts';
import { type JmapTestNode, mailUsing as using, startJmapNode } from './jmap-test-node.ts';

for (const name of backendNames) {
  describe(`JMAP Threads and stable ids on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    let inbox: string;
    let archive: string;

    let node: JmapTestNode;
    const imap = () => node.imap();
    /** Sends from Bob to Alice and answers the Email id it got. */
    const send = async (subject: string, headers: { messageId: string; inReplyTo?: string; references?: string[] }) => {
      await node.deliver('bob@test.example', 'alice@test.example', { subject, text: `${subject}\n`, ...headers });
      const [query] = await jam.api.Email.query({ accountId, filter: { subject }, limit: 1 });
      assert.equal(query.ids.length, 1, `${subject} found`);
      return query.ids[0]!;
    };
    const emailOf = async (id: string) => {
      const [got] = await jam.api.Email.get({
        accountId,
        ids: [id],
        properties: ['threadId', 'mailboxIds', 'subject', 'blobId'],
      });
      return got.list[0]!;
    };
    const state = async () => (await jam.api.Email.get({ accountId, ids: [] }))[0].state;
    const mailbox = async (id: string) => {
      const [got] = await jam.api.Mailbox.get({ accountId, ids: [id] });
      return got.list[0]!;
    };

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example']);
      ({ t, base, jam, accountId } = node);
      ({ inbox, archive } = (await node.mailboxRoles()) as { inbox: string; archive: string });
    });
    after(() => t.stop());

    it('puts a reply delivered by SMTP in its original’s thread, and Thread/get lists them oldest first', async () => {
      const before = await state();
      const original = await send('Lunch on Friday?', { messageId: '<lunch-1@test.example>' });
      const first = await emailOf(original);
      assert.match(first.threadId, /^T\d+$/);
      const [created] = await jam.api.Thread.changes({ accountId, sinceState: before });
      assert.deepEqual(created.created, [first.threadId]);

      const middle = await state();
      const reply = await send('Re: Lunch on Friday?', {
        messageId: '<lunch-2@test.example>',
        inReplyTo: '<lunch-1@test.example>',
        references: ['<lunch-1@test.example>'],
      });
      assert.equal((await emailOf(reply)).threadId, first.threadId);
      const [threads] = await jam.api.Thread.get({ accountId, ids: [first.threadId, 'T999999999'] });
      assert.deepEqual(threads.list, [{ id: first.threadId, emailIds: [original, reply] }]);
      assert.deepEqual(threads.notFound, ['T999999999']);
      assert.equal(threads.state, await state());
      const [updated] = await jam.api.Thread.changes({ accountId, sinceState: middle });
      assert.deepEqual([updated.created, updated.updated, updated.destroyed], [[], [first.threadId], []]);

      // An unrelated message with a similar subject is a thread of its own.
      const other = await send('Lunch', { messageId: '<other@test.example>' });
      assert.notEqual((await emailOf(other)).threadId, first.threadId);
    });

    it('joins a reply that arrived before its original, and a reply to it, into one thread', async () => {
      const reply = await send('Re: Budget', {
        messageId: '<budget-2@test.example>',
        inReplyTo: '<budget-1@test.example>',
        references: ['<budget-1@test.example>'],
      });
      const original = await send('Budget', { messageId: '<budget-1@test.example>' });
      // Only In-Reply-To, naming the reply: found by the reply's own Message-ID.
      const third = await send('Re: Re: Budget', {
        messageId: '<budget-3@test.example>',
        inReplyTo: '<budget-2@test.example>',
      });
      const threadId = (await emailOf(reply)).threadId;
      assert.equal((await emailOf(original)).threadId, threadId);
      assert.equal((await emailOf(third)).threadId, threadId);
      const [threads] = await jam.api.Thread.get({ accountId, ids: [threadId] });
      assert.deepEqual(threads.list[0]!.emailIds, [reply, original, third], 'by receivedAt');
    });

    it('keeps an Email’s id, thread and blob across IMAP MOVE, and Email/changes says updated', async () => {
      const id = await send('Move me by IMAP', { messageId: '<imap-move@test.example>' });
      const email = await emailOf(id);
      const before = await state();
      const inboxBefore = await mailbox(inbox);
      const archiveBefore = await mailbox(archive);
      const client = await imap();
      try {
        await client.mailboxOpen('INBOX');
        const found = await client.search({ header: { 'message-id': '<imap-move@test.example>' } }, { uid: true });
        assert.equal(found ? found.length : 0, 1);
        await client.messageMove(String((found as number[])[0]), 'Archive', { uid: true });
      } finally {
        await client.logout();
      }
      const moved = await emailOf(id);
      assert.deepEqual(moved, { ...email, mailboxIds: { [archive]: true } });
      const [changes] = await jam.api.Email.changes({ accountId, sinceState: before });
      assert.deepEqual([changes.created, changes.updated, changes.destroyed], [[], [id], []]);
      const [threadChanges] = await jam.api.Thread.changes({ accountId, sinceState: before });
      assert.deepEqual(
        [threadChanges.created, threadChanges.updated, threadChanges.destroyed],
        [[], [], []],
        'a move changes no thread',
      );
      assert.equal((await mailbox(inbox)).totalEmails, inboxBefore.totalEmails - 1);
      assert.equal((await mailbox(archive)).totalEmails, archiveBefore.totalEmails + 1);
      assert.equal((await mailbox(archive)).totalThreads, archiveBefore.totalThreads + 1);
      const blob = await jam.downloadBlob({
        accountId,
        blobId: email.blobId,
        mimeType: 'message/rfc822',
        fileName: 'm.eml',
      });
      assert.match(await blob.text(), /Subject: Move me by IMAP/);
    });

    it('keeps an Email’s id across a JMAP move and back; an IMAP COPY is a new Email in the same thread', async () => {
      const id = await send('Move me by JMAP', { messageId: '<jmap-move@test.example>' });
      const email = await emailOf(id);
      const before = await state();
      const [moved] = await jam.api.Email.set({ accountId, update: { [id]: { mailboxIds: { [archive]: true } } } });
      assert.deepEqual(moved.updated, { [id]: null });
      assert.deepEqual((await emailOf(id)).mailboxIds, { [archive]: true });
      const [back] = await jam.api.Email.set({
        accountId,
        update: { [id]: { [`mailboxIds/${archive}`]: null, [`mailboxIds/${inbox}`]: true } as never },
      });
      assert.deepEqual(back.updated, { [id]: null });
      const [changes] = await jam.api.Email.changes({ accountId, sinceState: before });
      assert.deepEqual([changes.created, changes.updated, changes.destroyed], [[], [id], []]);

      const client = await imap();
      try {
        await client.mailboxOpen('INBOX');
        const found = await client.search({ header: { 'message-id': '<jmap-move@test.example>' } }, { uid: true });
        await client.messageCopy(String((found as number[])[0]), 'Archive', { uid: true });
      } finally {
        await client.logout();
      }
      const [copies] = await jam.api.Email.query({ accountId, filter: { subject: 'Move me by JMAP' } });
      assert.equal(copies.ids.length, 2);
      const copy = copies.ids.find((other) => other !== id)!;
      assert.equal((await emailOf(copy)).threadId, email.threadId);
      const [threads] = await jam.api.Thread.get({ accountId, ids: [email.threadId] });
      assert.deepEqual(threads.list[0]!.emailIds, [id, copy]);
    });

    it('collapses threads in Email/query and counts them in Mailbox/get', async () => {
      const [all] = await jam.api.Email.query({ accountId, filter: { inMailbox: inbox } });
      const [collapsed] = await jam.api.Email.query({
        accountId,
        filter: { inMailbox: inbox },
        collapseThreads: true,
        calculateTotal: true,
      });
      const [got] = await jam.api.Email.get({ accountId, ids: all.ids, properties: ['id', 'threadId'] });
      const threads = new Set(got.list.map((e) => e.threadId));
      assert.ok(threads.size < all.ids.length, 'some Emails of the INBOX share a thread');
      assert.equal(collapsed.ids.length, threads.size);
      assert.equal(collapsed.total, threads.size);
      // The newest Email of each thread stands for it.
      const threadOf = new Map(got.list.map((e) => [e.id, e.threadId]));
      const firstOfEach = all.ids.filter(
        (id, i) => all.ids.findIndex((o) => threadOf.get(o) === threadOf.get(id)) === i,
      );
      assert.deepEqual(collapsed.ids, firstOfEach);
      const box = await mailbox(inbox);
      assert.equal(box.totalEmails, all.ids.length);
      assert.equal(box.totalThreads, threads.size);
      assert.equal(box.unreadThreads, threads.size, 'nothing is read yet');

      // Reading one Email of a two-Email thread leaves the thread unread; reading both does not.
      const [lunch] = await jam.api.Email.query({ accountId, filter: { subject: 'Lunch on Friday' } });
      await jam.api.Email.set({ accountId, update: { [lunch.ids[0]!]: { 'keywords/$seen': true } as never } });
      assert.equal((await mailbox(inbox)).unreadThreads, threads.size);
      await jam.api.Email.set({ accountId, update: { [lunch.ids[1]!]: { 'keywords/$seen': true } as never } });
      assert.equal((await mailbox(inbox)).unreadThreads, threads.size - 1);
      const [some] = await jam.api.Email.query({ accountId, filter: { someInThreadHaveKeyword: '$seen' } });
      assert.deepEqual(new Set(some.ids), new Set(lunch.ids));
      const [none] = await jam.api.Email.query({
        accountId,
        filter: { inMailbox: inbox, noneInThreadHaveKeyword: '$seen' },
      });
      assert.equal(none.ids.length, all.ids.length - 2);
    });

    it('destroys a thread with its last Email, and finds nothing of another account', async () => {
      const [budget] = await jam.api.Email.query({ accountId, filter: { subject: 'Budget' } });
      const threadId = (await emailOf(budget.ids[0]!)).threadId;
      const before = await state();
      await jam.api.Email.set({ accountId, destroy: budget.ids });
      const [changes] = await jam.api.Thread.changes({ accountId, sinceState: before });
      assert.deepEqual([changes.created, changes.updated, changes.destroyed], [[], [], [threadId]]);
      const [gone] = await jam.api.Thread.get({ accountId, ids: [threadId] });
      assert.deepEqual(gone.notFound, [threadId]);

      const [lunch] = await jam.api.Email.query({ accountId, filter: { subject: 'Lunch on Friday' } });
      const aliceEmail = lunch.ids[0]!;
      const aliceThread = (await emailOf(aliceEmail)).threadId;
      const bob = node.auth('bob@test.example');
      const bobAccount = await node.accountIdOf('bob@test.example');
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Email/get', { accountId: bobAccount, ids: [aliceEmail], properties: ['subject'] }, 'a'],
            ['Thread/get', { accountId: bobAccount, ids: [aliceThread, 'nonsense', 'T0'] }, 'b'],
            ['Email/set', { accountId: bobAccount, destroy: [aliceEmail] }, 'c'],
            ['Email/query', { accountId: bobAccount, collapseThreads: 'yes' }, 'd'],
          ],
        },
        bob,
      );
      const [[, a], [, b], [, c], [, d]] = json.methodResponses;
      assert.deepEqual(a.notFound, [aliceEmail]);
      assert.deepEqual(b.notFound, [aliceThread, 'nonsense', 'T0']);
      assert.equal(c.notDestroyed[aliceEmail].type, 'notFound');
      assert.equal(d.type, 'invalidArguments');
      const foreign = await fetch(`${base}/jmap/download/${bobAccount}/B${aliceEmail.slice(1)}/m.eml`, {
        headers: { Authorization: bob },
      });
      assert.equal(foreign.status, 404, "another account's blobs are not found");
    });
  });
}
