// Creation ids across method calls (RFC 8620 5.3): a Mailbox created as "#f" in one call is the
// Mailbox a later call of the same request moves an Email into, and the request's `createdIds` is
// answered with the ids created. Seen over IMAP (imapflow): the message is in the new folder.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { ImapFlow } from 'imapflow';
import { postApi } from './jmap-client.ts';
import { type JmapTestNode, mailUsing as using, startJmapNode } from './jmap-test-node.ts';
const message = (subject: string) =>
  `From: Bob <bob@test.example>\r\nTo: alice@test.example\r\nSubject: ${subject}\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`;

for (const name of backendNames) {
  describe(`JMAP creation ids on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let base: string;
    let auth: string;
    const accountIdOf = () => node.accountIdOf();
    const imap = <T>(use: (client: ImapFlow) => Promise<T>) => node.withImap(use);

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example']);
      ({ base } = node);
      auth = node.auth();
    });
    after(() => node.t.stop());

    it('moves an Email into a Mailbox created earlier in the same request, and answers createdIds', async () => {
      const accountId = await accountIdOf();
      await imap((client) => client.append('INBOX', message('File me'), []));
      const { json } = await postApi(
        base,
        {
          using,
          createdIds: { earlier: 'M999' },
          methodCalls: [
            ['Email/query', { accountId, filter: { subject: 'File me' } }, 'q'],
            ['Mailbox/set', { accountId, create: { f: { name: 'Projects' } } }, 'c'],
          ],
        },
        auth,
      );
      const emailId = json.methodResponses[0][1].ids[0] as string;
      const mailboxId = json.methodResponses[1][1].created.f.id as string;
      assert.deepEqual(json.createdIds, { earlier: 'M999', f: mailboxId });

      const moved = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Mailbox/set', { accountId, create: { g: { name: 'Archive 2026' } } }, 'c'],
            ['Email/set', { accountId, update: { [emailId]: { mailboxIds: { '#g': true } } } }, 'm'],
            ['Email/get', { accountId, ids: [emailId], properties: ['mailboxIds'] }, 'g'],
            ['Mailbox/get', { accountId, ids: ['#g'], properties: ['name', 'totalEmails'] }, 'mg'],
          ],
        },
        auth,
      );
      const created = moved.json.methodResponses[0][1].created.g.id as string;
      assert.ok(emailId in moved.json.methodResponses[1][1].updated, JSON.stringify(moved.json.methodResponses[1]));
      assert.deepEqual(moved.json.methodResponses[2][1].list[0].mailboxIds, { [created]: true });
      assert.deepEqual(moved.json.methodResponses[3][1].list, [{ id: created, name: 'Archive 2026', totalEmails: 1 }]);
      // No createdIds in the request: none in the answer.
      assert.equal(moved.json.createdIds, undefined);

      const subjects = await imap(async (client) => {
        const lock = await client.getMailboxLock('Archive 2026');
        try {
          return (await client.fetchAll('1:*', { envelope: true })).map((m) => m.envelope?.subject);
        } finally {
          lock.release();
        }
      });
      assert.deepEqual(subjects, ['File me']);
    });

    it('leaves a text that reads like a creation id alone, and an unknown one to the method', async () => {
      const accountId = await accountIdOf();
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Mailbox/set', { accountId, create: { h: { name: 'Holding' } } }, 'c'],
            // A name is not an id: "#h" stays a name.
            ['Mailbox/set', { accountId, create: { i: { name: '#h' } } }, 'n'],
            ['Mailbox/get', { accountId, ids: ['#nothing'] }, 'u'],
          ],
        },
        auth,
      );
      const named = json.methodResponses[1][1].created.i.id as string;
      const [got] = (
        await postApi(
          base,
          { using, methodCalls: [['Mailbox/get', { accountId, ids: [named], properties: ['name'] }, 'x']] },
          auth,
        )
      ).json.methodResponses;
      assert.equal(got[1].list[0].name, '#h');
      assert.deepEqual(json.methodResponses[2][1].notFound, ['#nothing']);
    });
  });
}
