// Read-only access to a shared account (RFC 4314 "lr"): every JMAP write path refuses per object
// with forbidden, and reading works. A grant is full access or nothing today (mailbox_grants holds no
// rights: a read-only grant needs a store migration and `holdfast shared grant --read-only`), so no
// HTTP request can sign in with these rights yet. The methods run here as the API runs them
// (runApiRequest over the same method map, on the real server's store, both backends) with the
// access a read-only grant would give: what the grant will change is where the rights come from,
// not how JMAP holds to them. (A call that names a second account — Email/copy's source — looks
// that account's grant up in the store, so copying out of a read-only account is left to the test
// the grant will come with.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { messageDeps } from '../../src/mailbox/messages.ts';
import type { JmapCallContext } from '../../src/protocols/jmap/jmap-context.ts';
import { isReadOnly } from '../../src/protocols/jmap/jmap-accounts.ts';
import { jmapMethods } from '../../src/protocols/jmap/jmap-methods.ts';
import { type Invocation, runApiRequest } from '../../src/protocols/jmap/jmap-request.ts';
import { sessionResource } from '../../src/protocols/jmap/jmap-session.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

const team = 'team@test.example';
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
const readOnly = { rights: 'lr', maySubmit: false };
const message = (subject: string) => `From: dora@test.example\r\nTo: ${team}\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;

for (const name of backendNames) {
  describe(`JMAP read-only rights in a shared account on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let own: string;
    let teamAccount: string;
    let teamInbox: string;
    let ownInbox: string;
    let ids: string[];
    let readOnlyContext: JmapCallContext;
    /** Method calls as Alice with read-only rights in team@: the responses. */
    // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
    const asReader = async (methodCalls: Invocation[]): Promise<any[]> =>
      runApiRequest({ using, methodCalls }, jmapMethods, readOnlyContext, (error) => {
        throw error;
      });
    const forbidden = (errors: Record<string, { type: string }> | null) =>
      Object.values(errors ?? {}).every((e) => e.type === 'forbidden') && Object.keys(errors ?? {}).length > 0;

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', { kind: 'shared', address: team }]);
      const { holdfast } = node.t.node;
      const tenant = await holdfast.directory.tenant('default');
      await tenant.grant(team, 'alice@test.example', { fullAccess: true, sendAs: false });
      own = node.accountId;
      teamAccount = await node.accountNamed(team);
      // Mail in team@ (its folders made by a first look) and in Alice's own INBOX, put there with her
      // full access over IMAP.
      await node.call([['Mailbox/get', { accountId: teamAccount, ids: [] }, 'm']]);
      await node.withImap(async (client) => {
        for (const subject of ['one', 'two', 'three'])
          await client.append(`Shared/${team}/INBOX`, message(subject), []);
        await client.append('INBOX', message('mine'), []);
      });
      const [[, boxes], [, query], [, mine]] = await node.call([
        ['Mailbox/get', { accountId: teamAccount, properties: ['role'] }, 'm'],
        ['Email/query', { accountId: teamAccount }, 'q'],
        ['Mailbox/get', { accountId: own, properties: ['role'] }, 'o'],
      ]);
      teamInbox = boxes.list.find((m: { role: string }) => m.role === 'inbox').id;
      ownInbox = mine.list.find((m: { role: string }) => m.role === 'inbox').id;
      ids = query.ids;
      assert.equal(ids.length, 3);
      const alice = await tenant.getPrincipal('alice@test.example');
      const owner = await tenant.getPrincipal(team);
      readOnlyContext = {
        principal: owner,
        signedIn: alice,
        access: readOnly,
        mail: messageDeps({
          store: holdfast.store,
          changes: holdfast.changes,
          folderIndex: holdfast.folderIndex,
          now: holdfast.now,
        }),
        log: silentLogger(),
      };
    });
    after(() => node.t.stop());

    it('lists the account read-only, and its Mailboxes with read rights only', async () => {
      assert.equal(isReadOnly(readOnly), true);
      const session = sessionResource(readOnlyContext.signedIn!, 'http://x', new Set(using), {}, [
        { owner: readOnlyContext.principal, access: readOnly },
      ]);
      assert.equal(session.accounts[teamAccount]!.isReadOnly, true);
      const [[, got]] = await asReader([['Mailbox/get', { accountId: teamAccount, ids: [teamInbox] }, 'm']]);
      const rights = got.list[0].myRights;
      assert.equal(rights.mayReadItems, true);
      for (const right of ['mayAddItems', 'mayRemoveItems', 'maySetSeen', 'maySetKeywords', 'mayCreateChild'])
        assert.equal(rights[right], false, right);
    });

    it('reads: Email/query, Email/get, Thread/get, SearchSnippet/get, Email/parse', async () => {
      const [[, query], [, got], [, parsed], [, threads], [, snippets]] = await asReader([
        [
          'Email/query',
          { accountId: teamAccount, filter: { inMailbox: teamInbox }, sort: [{ property: 'subject' }] },
          'q',
        ],
        [
          'Email/get',
          {
            accountId: teamAccount,
            '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
            properties: ['subject', 'blobId', 'threadId'],
          },
          'g',
        ],
        ['Email/parse', { accountId: teamAccount, blobIds: [`B${ids[0]!.slice(1)}`], properties: ['subject'] }, 'p'],
        [
          'Thread/get',
          { accountId: teamAccount, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } },
          't',
        ],
        ['SearchSnippet/get', { accountId: teamAccount, emailIds: ids, filter: { subject: 'two' } }, 's'],
      ]);
      assert.equal(query.ids.length, 3);
      assert.deepEqual(
        got.list.map((e: { subject: string }) => e.subject),
        ['one', 'three', 'two'],
      );
      assert.ok(parsed.parsed);
      assert.equal(threads.list.length, 3);
      assert.equal(snippets.list.filter((s: { subject: string | null }) => s.subject === '<mark>two</mark>').length, 1);
    });

    it('answers forbidden per object for every Email/set change', async () => {
      const [[, set]] = await asReader([
        [
          'Email/set',
          {
            accountId: teamAccount,
            create: { k: { mailboxIds: { [teamInbox]: true }, subject: 'new' } },
            update: {
              [ids[0]!]: { 'keywords/$seen': true },
              [ids[1]!]: { 'keywords/$flagged': true },
            },
            destroy: [ids[2]!],
          },
          's',
        ],
      ]);
      assert.ok(forbidden(set.notCreated), JSON.stringify(set));
      assert.ok(forbidden(set.notUpdated), JSON.stringify(set));
      assert.deepEqual(Object.keys(set.notUpdated).sort(), [ids[0], ids[1]].sort());
      assert.ok(forbidden(set.notDestroyed), JSON.stringify(set));
      assert.equal(set.created, null);
      assert.equal(set.updated, null);
      assert.equal(set.destroyed, null);
      assert.equal(set.oldState, set.newState, 'nothing changed');
      // A move into Alice's own account's folder is not a Mailbox here; into team@'s Trash it takes t, e, i.
      const [[, boxes]] = await asReader([['Mailbox/get', { accountId: teamAccount, properties: ['role'] }, 'm']]);
      const trash = boxes.list.find((m: { role: string }) => m.role === 'trash').id;
      const [[, move]] = await asReader([
        ['Email/set', { accountId: teamAccount, update: { [ids[0]!]: { mailboxIds: { [trash]: true } } } }, 's'],
      ]);
      assert.ok(forbidden(move.notUpdated), JSON.stringify(move));
    });

    it('answers forbidden per object for Email/import, Email/copy and Blob/copy into the account', async () => {
      const [[, ownQuery]] = await node.call([
        ['Email/query', { accountId: own, filter: { inMailbox: ownInbox } }, 'q'],
      ]);
      const mine = ownQuery.ids[0];
      const [[, imported], [, copied], [, blobs]] = await asReader([
        [
          'Email/import',
          {
            accountId: teamAccount,
            emails: { k: { blobId: `B${ids[0]!.slice(1)}`, mailboxIds: { [teamInbox]: true } } },
          },
          'i',
        ],
        [
          'Email/copy',
          {
            fromAccountId: own,
            accountId: teamAccount,
            create: { c: { id: mine, mailboxIds: { [teamInbox]: true } } },
          },
          'c',
        ],
        ['Blob/copy', { fromAccountId: own, accountId: teamAccount, blobIds: [`B${mine.slice(1)}`] }, 'b'],
      ]);
      assert.ok(forbidden(imported.notCreated), JSON.stringify(imported));
      assert.ok(forbidden(copied.notCreated), JSON.stringify(copied));
      assert.ok(forbidden(blobs.notCopied), JSON.stringify(blobs));
      assert.equal(blobs.copied, null);
    });

    it('answers forbidden per object for Mailbox/set', async () => {
      const [[, set]] = await asReader([
        [
          'Mailbox/set',
          {
            accountId: teamAccount,
            create: { f: { name: 'Projects' } },
            update: { [teamInbox]: { name: 'Renamed' } },
            destroy: [teamInbox],
          },
          'm',
        ],
      ]);
      assert.ok(forbidden(set.notCreated), JSON.stringify(set));
      assert.ok(forbidden(set.notUpdated), JSON.stringify(set));
      assert.ok(forbidden(set.notDestroyed), JSON.stringify(set));
    });
  });
}
