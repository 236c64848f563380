// Shared mailboxes as JMAP accounts (RFC 8620 1.6.2, RFC 8621): Alice has full access to the shared
// mailbox team@ (with send-as) and to Bob's mailbox (without), so her session lists both as accounts
// that are not hers; Mailbox and Email methods work in them within her rights, Email/copy moves mail
// between them and her own account, and IMAP (imapflow, the same folders under "Shared/…") sees each
// change. Carol shared nothing and Mallory is in another tenant: their account ids are not found.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, password, startJmapNode } from './jmap-test-node.ts';

const mail = 'urn:ietf:params:jmap:mail';
const team = 'team@test.example';
const bob = 'bob@test.example';

for (const name of backendNames) {
  describe(`JMAP shared accounts on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let own: string;
    let teamAccount: string;
    let bobAccount: string;
    /** The ids of an account's Mailboxes by name (top-level ones). */
    const mailboxes = async (accountId: string) => {
      const [[, got]] = await node.call([['Mailbox/get', { accountId, properties: ['name', 'myRights'] }, 'm']]);
      return new Map<string, { id: string; myRights: Record<string, boolean> }>(
        got.list.map((m: { id: string; name: string; myRights: Record<string, boolean> }) => [m.name, m]),
      );
    };
    /** What IMAP shows in one of Alice's folders: subjects and flags. */
    const imapFolder = (folder: string) =>
      node.withImap(async (client) => {
        const lock = await client.getMailboxLock(folder);
        try {
          const out: { subject: string; flags: string[] }[] = [];
          for await (const m of client.fetch('1:*', { envelope: true, flags: true }))
            out.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].sort() });
          return out;
        } catch {
          return []; // an empty folder has no 1:*
        } finally {
          lock.release();
        }
      });

    before(async () => {
      node = await startJmapNode(name, [
        'alice@test.example',
        bob,
        'carol@test.example',
        { kind: 'shared', address: team },
      ]);
      const { directory } = node.t.node.holdfast;
      const tenant = await directory.tenant('default');
      await tenant.grant(team, 'alice@test.example', { fullAccess: true, sendAs: true });
      await tenant.grant(bob, 'alice@test.example', { fullAccess: true, sendAs: false });
      await directory.addTenant({ name: 'acme' });
      const acme = await directory.tenant('acme');
      await acme.addDomain('acme.example');
      await acme.addPrincipal({ kind: 'user', address: 'mallory@acme.example', password });
      own = node.accountId;
      teamAccount = await node.accountNamed(team);
      bobAccount = await node.accountNamed(bob);
    });
    after(() => node.t.stop());

    it('lists each mailbox shared with the user as an account of its own, with mail and contacts only', async () => {
      const session = await node.session();
      assert.equal(Object.keys(session.accounts).length, 3);
      assert.equal(session.accounts[own].isPersonal, true);
      assert.equal(session.primaryAccounts[mail], own);
      for (const id of [teamAccount, bobAccount]) {
        const account = session.accounts[id];
        assert.equal(account.isPersonal, false);
        assert.equal(account.isReadOnly, false);
        assert.deepEqual(Object.keys(account.accountCapabilities), [mail, 'urn:ietf:params:jmap:contacts']);
        assert.equal(account.accountCapabilities[mail].mayCreateTopLevelMailbox, false);
      }
      // Nobody shared anything with Bob: his session has his own account alone.
      assert.deepEqual(Object.keys((await node.session(bob)).accounts), [await node.accountIdOf(bob)]);
      // jmap-jam sees the same accounts (a new client: the starter's loaded its session before the grants).
      assert.equal(Object.keys((await node.jamOf('alice@test.example').session).accounts).length, 3);
    });

    it('shows the shared folders with the rights the grant gives, maySubmit where the user may send as the owner', async () => {
      const teamBoxes = await mailboxes(teamAccount);
      assert.deepEqual([...teamBoxes.keys()].sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      const inbox = teamBoxes.get('INBOX')!.myRights;
      assert.equal(inbox.mayReadItems, true);
      assert.equal(inbox.mayAddItems, true);
      assert.equal(inbox.mayRemoveItems, true);
      assert.equal(inbox.maySetKeywords, true);
      assert.equal(inbox.mayCreateChild, false);
      assert.equal(teamBoxes.get('Archive')!.myRights.mayRename, false);
      assert.equal(teamBoxes.get('Archive')!.myRights.mayDelete, false);
      assert.equal(inbox.maySubmit, true);
      assert.equal((await mailboxes(bobAccount)).get('INBOX')!.myRights.maySubmit, false);
      assert.equal((await mailboxes(own)).get('INBOX')!.myRights.maySubmit, true);
      // The same folders IMAP lists under the shared namespace.
      const listed = await node.withImap(async (client) => (await client.list()).map((f) => f.path));
      for (const folder of teamBoxes.keys()) assert.ok(listed.includes(`Shared/${team}/${folder}`), folder);

      const [[, query]] = await node.call([
        ['Mailbox/query', { accountId: teamAccount, filter: { role: 'archive' } }, 'q'],
      ]);
      assert.deepEqual(query.ids, [teamBoxes.get('Archive')!.id]);
      // Folders of a shared mailbox are its owner's to make, rename and delete.
      const [[, set]] = await node.call([
        [
          'Mailbox/set',
          {
            accountId: teamAccount,
            create: { n: { name: 'Mine now' } },
            update: { [teamBoxes.get('Archive')!.id]: { name: 'Old' } },
            destroy: [teamBoxes.get('Junk')!.id],
          },
          's',
        ],
      ]);
      assert.equal(set.notCreated.n.type, 'forbidden');
      assert.equal(set.notUpdated[teamBoxes.get('Archive')!.id].type, 'forbidden');
      assert.equal(set.notDestroyed[teamBoxes.get('Junk')!.id].type, 'forbidden');
      assert.deepEqual([...(await mailboxes(teamAccount)).keys()].sort(), [...teamBoxes.keys()].sort());
    });

    it('reads and changes the shared mailbox’s Emails, and IMAP sees the same changes', async () => {
      await node.deliver(bob, team, { subject: 'Team standup', text: 'At ten.\n' });
      const teamBoxes = await mailboxes(teamAccount);
      const [[, start]] = await node.call([['Email/get', { accountId: teamAccount, ids: [] }, 'g']]);
      const [[, found]] = await node.call([
        ['Email/query', { accountId: teamAccount, filter: { subject: 'Team standup' } }, 'q'],
      ]);
      assert.equal(found.ids.length, 1);
      const id = found.ids[0] as string;
      // Alice's own account does not hold it.
      const [[, mine]] = await node.call([
        ['Email/query', { accountId: own, filter: { subject: 'Team standup' } }, 'q'],
      ]);
      assert.deepEqual(mine.ids, []);
      const [[, got]] = await node.call([
        ['Email/get', { accountId: teamAccount, ids: [id], properties: ['subject', 'mailboxIds', 'blobId'] }, 'g'],
      ]);
      assert.equal(got.list[0].subject, 'Team standup');
      assert.deepEqual(got.list[0].mailboxIds, { [teamBoxes.get('INBOX')!.id]: true });
      const download = await fetch(`${node.base}/jmap/download/${teamAccount}/${got.list[0].blobId}/m.eml`, {
        headers: { Authorization: node.auth() },
      });
      assert.equal(download.status, 200);
      assert.match(await download.text(), /Subject: Team standup/);

      const [[, set]] = await node.call([
        [
          'Email/set',
          { accountId: teamAccount, update: { [id]: { 'keywords/$seen': true, 'keywords/$flagged': true } } },
          's',
        ],
      ]);
      assert.deepEqual(Object.keys(set.updated), [id]);
      const [[, changes]] = await node.call([
        ['Email/changes', { accountId: teamAccount, sinceState: start.state }, 'c'],
      ]);
      assert.ok(changes.created.includes(id) || changes.updated.includes(id));
      const [[, boxChanges]] = await node.call([
        ['Mailbox/changes', { accountId: teamAccount, sinceState: start.state }, 'c'],
      ]);
      assert.ok(boxChanges.updated.includes(teamBoxes.get('INBOX')!.id));
      assert.deepEqual(await imapFolder(`Shared/${team}/INBOX`), [
        { subject: 'Team standup', flags: ['\\Flagged', '\\Seen'] },
      ]);

      // A move within the shared account: the Email keeps its id, IMAP finds it in the other folder.
      const archive = teamBoxes.get('Archive')!.id;
      const [[, moved]] = await node.call([
        ['Email/set', { accountId: teamAccount, update: { [id]: { mailboxIds: { [archive]: true } } } }, 'm'],
      ]);
      assert.deepEqual(Object.keys(moved.updated), [id]);
      assert.deepEqual(await imapFolder(`Shared/${team}/INBOX`), []);
      assert.equal((await imapFolder(`Shared/${team}/Archive`))[0]?.subject, 'Team standup');
    });

    it('copies Emails between the user’s account and a shared one with Email/copy', async () => {
      await node.deliver(bob, team, { subject: 'Copy me over', text: 'Please file.\n' });
      const [[, found]] = await node.call([
        ['Email/query', { accountId: teamAccount, filter: { subject: 'Copy me over' } }, 'q'],
      ]);
      const original = found.ids[0] as string;
      const ownInbox = (await mailboxes(own)).get('INBOX')!.id;
      const responses = await node.call([
        [
          'Email/copy',
          {
            fromAccountId: teamAccount,
            accountId: own,
            create: { c1: { id: original, mailboxIds: { [ownInbox]: true }, keywords: { $seen: true } } },
            onSuccessDestroyOriginal: true,
          },
          'c',
        ],
      ]);
      const [[copyName, copy], [implicitName, destroyed, implicitId]] = responses;
      assert.equal(copyName, 'Email/copy');
      assert.equal(copy.fromAccountId, teamAccount);
      assert.equal(copy.accountId, own);
      assert.match(copy.created.c1.id, /^M[0-9]+$/);
      assert.notEqual(copy.created.c1.id, original);
      assert.equal(implicitName, 'Email/set');
      assert.equal(implicitId, 'c');
      assert.deepEqual(destroyed.destroyed, [original]);
      assert.deepEqual(
        (await imapFolder('INBOX')).filter((m) => m.subject === 'Copy me over'),
        [{ subject: 'Copy me over', flags: ['\\Seen'] }],
      );
      assert.deepEqual(
        (await imapFolder(`Shared/${team}/INBOX`)).filter((m) => m.subject === 'Copy me over'),
        [],
      );

      // And back the other way, into Bob's mailbox, keeping the original's keywords.
      const bobInbox = (await mailboxes(bobAccount)).get('INBOX')!.id;
      const [[, back]] = await node.call([
        [
          'Email/copy',
          {
            fromAccountId: own,
            accountId: bobAccount,
            create: { b: { id: copy.created.c1.id, mailboxIds: { [bobInbox]: true } } },
          },
          'b',
        ],
      ]);
      assert.ok(back.created.b, JSON.stringify(back.notCreated));
      const bobSees = await node.withImap(async (client) => {
        await client.mailboxOpen('INBOX');
        const m = await client.fetchOne('*', { envelope: true, flags: true });
        return m && { subject: m.envelope?.subject, flags: [...(m.flags ?? [])] };
      }, bob);
      assert.deepEqual(bobSees, { subject: 'Copy me over', flags: ['\\Seen'] });

      const [[, refused]] = await node.call([
        [
          'Email/copy',
          { fromAccountId: own, accountId: teamAccount, create: { x: { id: 'M999999', mailboxIds: { m1: true } } } },
          'x',
        ],
      ]);
      assert.equal(refused.notCreated.x.type, 'notFound');
    });

    it('answers accountNotFound for accounts of users who shared nothing and of other tenants', async () => {
      const carol = await node.accountIdOf('carol@test.example');
      const mallory = await node.accountIdOf('mallory@acme.example');
      // A grant row across tenants (none is ever made so) still gives no account.
      const { db } = node.t.node.holdfast.store;
      const ids = await db.selectFrom('principals').select(['id', 'address', 'tenant_id']).execute();
      const idOf = (address: string) => ids.find((p) => p.address === address)!;
      await db
        .insertInto('mailbox_grants')
        .values({
          target_id: idOf('mallory@acme.example').id,
          grantee_id: idOf('alice@test.example').id,
          tenant_id: idOf('alice@test.example').tenant_id,
          full_access: 1,
          send_as: 1,
          created_at: Date.now(),
        })
        .execute();
      assert.ok(!Object.keys((await node.session()).accounts).includes(mallory));
      for (const accountId of [carol, mallory]) {
        const responses = await node.call([
          ['Mailbox/get', { accountId }, 'm'],
          ['Email/query', { accountId }, 'q'],
          ['Email/set', { accountId, update: { M1: { keywords: {} } } }, 's'],
          ['Email/copy', { fromAccountId: accountId, accountId: own, create: {} }, 'c'],
        ]);
        assert.deepEqual(
          responses.map(([kind, args]) => (kind === 'error' ? args.type : kind)),
          ['accountNotFound', 'accountNotFound', 'accountNotFound', 'fromAccountNotFound'],
        );
        const download = await fetch(`${node.base}/jmap/download/${accountId}/B1/m.eml`, {
          headers: { Authorization: node.auth() },
        });
        assert.equal(download.status, 404);
      }
      // Sending, identities and the like stay in the user's own account.
      const [[kind, args]] = await node.call([['Identity/get', { accountId: teamAccount }, 'i']], node.auth(), [
        'urn:ietf:params:jmap:core',
        'urn:ietf:params:jmap:submission',
      ]);
      assert.equal(kind, 'error');
      assert.equal(args.type, 'accountNotFound');
    });
  });
}
