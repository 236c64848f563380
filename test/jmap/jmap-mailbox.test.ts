// Mailbox/get, Mailbox/changes and Mailbox/query through jmap-jam, with IMAP (imapflow) changing
// the same mailbox: a folder created, filled, unsubscribed or deleted over IMAP shows in
// Mailbox/changes, from states derived from the MODSEQ IMAP itself reads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type BasicJam, postApi } from './jmap-client.ts';
import { type JmapTestNode, mailUsing as using, startJmapNode } from './jmap-test-node.ts';
const message = (subject: string) =>
  `From: Bob <bob@test.example>\r\nTo: alice@test.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test.example>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`;

for (const name of backendNames) {
  describe(`JMAP Mailbox on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    const imap = () => node.imap();

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example']);
      ({ t, jam, accountId } = node);
    });
    after(() => t.stop());

    it('lists the default folders with roles, counts and rights', async () => {
      const [result] = await jam.api.Mailbox.get({ accountId });
      const byRole = new Map(result.list.map((m) => [m.role, m]));
      assert.deepEqual([...byRole.keys()].sort(), ['archive', 'drafts', 'inbox', 'junk', 'sent', 'trash']);
      const inbox = byRole.get('inbox')!;
      assert.equal(inbox.name, 'INBOX');
      assert.equal(inbox.parentId, null);
      assert.equal(inbox.totalEmails, 0);
      assert.equal(inbox.myRights.mayReadItems, true);
      assert.equal(inbox.isSubscribed, true);
      assert.ok(result.state);

      const [some] = await jam.api.Mailbox.get({ accountId, ids: [inbox.id, 'm999999'], properties: ['name'] });
      assert.deepEqual(some.list, [{ id: inbox.id, name: 'INBOX' }]);
      assert.deepEqual(some.notFound, ['m999999']);
    });

    it('shows IMAP changes in Mailbox/changes: created, counts, subscription, destroyed', async () => {
      const [{ state: start }] = await jam.api.Mailbox.get({ accountId, ids: [] });
      const client = await imap();
      try {
        await client.mailboxCreate('Projects');
        await client.mailboxCreate('Projects/Holdfast');
        const [created] = await jam.api.Mailbox.changes({ accountId, sinceState: start });
        assert.equal(created.created.length, 2);
        assert.deepEqual(created.updated, []);
        assert.equal(created.hasMoreChanges, false);
        const [got] = await jam.api.Mailbox.get({ accountId, ids: created.created });
        const child = got.list.find((m) => m.name === 'Holdfast')!;
        const parent = got.list.find((m) => m.name === 'Projects')!;
        assert.equal(child.parentId, parent.id);

        await client.append('Projects', message('First'), ['\\Seen']);
        await client.append('Projects', message('Second'));
        const [counts] = await jam.api.Mailbox.changes({ accountId, sinceState: created.newState });
        assert.deepEqual(counts.updated, [parent.id]);
        assert.deepEqual(counts.updatedProperties, ['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads']);
        const [now] = await jam.api.Mailbox.get({ accountId, ids: [parent.id] });
        assert.equal(now.list[0]!.totalEmails, 2);
        assert.equal(now.list[0]!.unreadEmails, 1);
        assert.equal(now.state, counts.newState);

        await client.mailboxUnsubscribe('Projects/Holdfast');
        const [subscription] = await jam.api.Mailbox.changes({ accountId, sinceState: counts.newState });
        assert.deepEqual(subscription.updated, [child.id]);
        assert.equal(subscription.updatedProperties, null);

        await client.mailboxDelete('Projects/Holdfast');
        const [destroyed] = await jam.api.Mailbox.changes({ accountId, sinceState: subscription.newState });
        assert.deepEqual(destroyed.destroyed, [child.id]);

        const [none] = await jam.api.Mailbox.changes({ accountId, sinceState: destroyed.newState });
        assert.deepEqual([none.created, none.updated, none.destroyed], [[], [], []]);
        assert.equal(none.newState, destroyed.newState);

        // A small maxChanges answers in steps, each state carrying on from the last.
        const seen: string[] = [];
        let state = start;
        for (let step = 0; step < 5; step++) {
          const [page] = await jam.api.Mailbox.changes({ accountId, sinceState: state, maxChanges: 1 });
          seen.push(...page.created, ...page.updated, ...page.destroyed);
          state = page.newState;
          if (!page.hasMoreChanges) break;
          assert.equal(page.created.length + page.updated.length + page.destroyed.length, 1);
        }
        assert.equal(state, destroyed.newState);
        assert.deepEqual(seen.sort(), [parent.id], 'the folder made and deleted since is not reported');
      } finally {
        await client.logout();
      }
    });

    it('answers Mailbox/query with filters, sorts and windows', async () => {
      const [roles] = await jam.api.Mailbox.query({
        accountId,
        filter: { hasAnyRole: true },
        sort: [{ property: 'sortOrder' }],
      });
      const [got] = await jam.api.Mailbox.get({ accountId, ids: roles.ids, properties: ['role'] });
      assert.deepEqual(
        got.list.map((m) => m.role),
        ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'],
      );
      const [named] = await jam.api.Mailbox.query({
        accountId,
        filter: { operator: 'OR', conditions: [{ role: 'inbox' }, { name: 'proj' }] },
        sort: [{ property: 'name', isAscending: false }],
        calculateTotal: true,
      });
      assert.equal(named.total, 2);
      assert.equal(named.ids[1], roles.ids[0], 'INBOX sorts after Projects, descending');
      const [page] = await jam.api.Mailbox.query({
        accountId,
        sort: [{ property: 'sortOrder' }],
        position: 1,
        limit: 2,
      });
      assert.deepEqual(page.ids, roles.ids.slice(1, 3));
      assert.equal(page.position, 1);
    });

    it('answers errors per RFC 8620 and never shows another account', async () => {
      const { base } = node;
      const auth = node.auth();
      const bob = node.jamOf('bob@test.example');
      const bobAccount = await bob.getPrimaryAccount();
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Mailbox/get', { accountId: bobAccount }, 'a'],
            ['Mailbox/changes', { accountId, sinceState: 'garbage' }, 'b'],
            ['Mailbox/query', { accountId, sort: [{ property: 'totalEmails' }] }, 'c'],
            ['Mailbox/query', { accountId, filter: { color: 'red' } }, 'd'],
            ['Mailbox/get', { accountId, ids: Array.from({ length: 300 }, (_, i) => `m${i + 1}`) }, 'e'],
            ['Mailbox/get', { accountId, properties: ['colour'] }, 'f'],
          ],
        },
        auth,
      );
      const types = json.methodResponses.map((r: [string, { type?: string }]) => r[1].type);
      assert.deepEqual(types, [
        'accountNotFound',
        'cannotCalculateChanges',
        'unsupportedSort',
        'unsupportedFilter',
        'requestTooLarge',
        'invalidArguments',
      ]);
      const mailOnly = await postApi(
        base,
        { using: ['urn:ietf:params:jmap:core'], methodCalls: [['Mailbox/get', { accountId }, 'a']] },
        auth,
      );
      assert.equal(mailOnly.json.methodResponses[0][1].type, 'unknownMethod', 'mail methods need the mail capability');
    });
  });
}
