// Mailbox/set through jmap-jam, seen over IMAP (imapflow) on the same mailbox: a Mailbox created,
// renamed, moved, unsubscribed and destroyed over JMAP is the same folder IMAP LIST and LSUB show,
// and Mailbox/changes reports each step. The refusals a client meets: INBOX, Mailboxes with Emails
// or children, names taken, roles held.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { type BasicJam, basicAuth, postApi } from './jmap-client.ts';
import { mailUsing as using, password, startJmapNode } from './jmap-test-node.ts';
const message = (subject: string) =>
  `From: Bob <bob@test.example>\r\nTo: alice@test.example\r\nSubject: ${subject}\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`;

for (const name of backendNames) {
  describe(`JMAP Mailbox/set on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    const auth = basicAuth('alice@test.example', password);
    // biome-ignore lint/suspicious/noExplicitAny: the answer's shape is what each test checks
    const set = async (args: object): Promise<any> => {
      const { json } = await postApi(
        base,
        { using, methodCalls: [['Mailbox/set', { accountId, ...args }, 's']] },
        auth,
      );
      return json.methodResponses[0][1];
    };
    const imapFolders = async () => {
      const client = imapflowClient(t.port('imaps'), 'alice@test.example', password);
      await client.connect();
      try {
        // imapflow's list() runs LIST and LSUB: `subscribed` is what LSUB said.
        const folders = await client.list();
        return {
          all: folders.map((f) => f.path).sort(),
          subscribed: folders
            .filter((f) => f.subscribed)
            .map((f) => f.path)
            .sort(),
        };
      } finally {
        await client.logout();
      }
    };
    const state = async () => (await jam.api.Mailbox.get({ accountId, ids: [] }))[0].state;

    before(async () => {
      ({ t, base, jam, accountId } = await startJmapNode(name, ['alice@test.example']));
    });
    after(() => t.stop());

    it('says a client may create Mailboxes at the top, and what it may do with each', async () => {
      const session = await jam.session;
      const mail = session.accounts[accountId]!.accountCapabilities['urn:ietf:params:jmap:mail'] as Record<
        string,
        unknown
      >;
      assert.equal(mail.mayCreateTopLevelMailbox, true);
      const [got] = await jam.api.Mailbox.get({ accountId, properties: ['name', 'myRights'] });
      const inbox = got.list.find((m) => m.name === 'INBOX')!;
      const trash = got.list.find((m) => m.name === 'Trash')!;
      assert.equal(inbox.myRights.mayRename, false);
      assert.equal(inbox.myRights.mayDelete, false);
      assert.equal(inbox.myRights.mayCreateChild, true);
      assert.deepEqual(
        [trash.myRights.mayRename, trash.myRights.mayDelete, trash.myRights.mayAddItems],
        [true, true, true],
      );
    });

    it('creates, renames, moves, unsubscribes and destroys folders that IMAP sees', async () => {
      const start = await state();
      const made = await set({
        create: {
          work: { name: 'Work', parentId: null },
          // A child of a Mailbox created in the same call names it by its creation id.
          reports: { name: 'Reports', parentId: '#work', isSubscribed: false },
          lists: { name: 'Lists', role: 'all' },
        },
      });
      assert.equal(made.notCreated, null);
      const work = made.created.work.id as string;
      const reports = made.created.reports.id as string;
      assert.equal(made.created.reports.isSubscribed, false);
      assert.equal(made.created.work.totalEmails, 0);
      assert.equal(made.created.lists.role, 'all');
      let imap = await imapFolders();
      assert.ok(imap.all.includes('Work') && imap.all.includes('Work/Reports') && imap.all.includes('Lists'));
      assert.ok(imap.subscribed.includes('Work') && !imap.subscribed.includes('Work/Reports'));

      const [created] = await jam.api.Mailbox.changes({ accountId, sinceState: start });
      assert.equal(created.created.length, 3);
      assert.equal(created.newState, made.newState);
      const [got] = await jam.api.Mailbox.get({ accountId, ids: [reports] });
      assert.equal(got.list[0]!.parentId, work);

      // A rename takes the children along, as IMAP RENAME does.
      const renamed = await set({ update: { [work]: { name: 'Projects' } } });
      assert.deepEqual(Object.keys(renamed.updated), [work]);
      imap = await imapFolders();
      assert.ok(imap.all.includes('Projects/Reports') && !imap.all.includes('Work'));
      const [afterRename] = await jam.api.Mailbox.changes({ accountId, sinceState: made.newState });
      assert.ok(afterRename.updated.includes(work));

      // Moved to the top and subscribed.
      await set({ update: { [reports]: { parentId: null, isSubscribed: true } } });
      imap = await imapFolders();
      assert.ok(imap.all.includes('Reports') && imap.subscribed.includes('Reports'));
      const [moved] = await jam.api.Mailbox.get({ accountId, ids: [reports] });
      assert.deepEqual(
        [moved.list[0]!.parentId, moved.list[0]!.name, moved.list[0]!.isSubscribed],
        [null, 'Reports', true],
      );

      const gone = await set({ destroy: [reports] });
      assert.deepEqual(gone.destroyed, [reports]);
      imap = await imapFolders();
      assert.ok(!imap.all.includes('Reports'));
      const [destroyed] = await jam.api.Mailbox.changes({ accountId, sinceState: gone.oldState });
      assert.deepEqual(destroyed.destroyed, [reports]);
    });

    it('refuses what a Mailbox cannot become, per object', async () => {
      const [got] = await jam.api.Mailbox.get({ accountId, properties: ['id', 'name', 'role'] });
      const inbox = got.list.find((m) => m.role === 'inbox')!.id;
      const projects = got.list.find((m) => m.name === 'Projects')!.id;
      const answer = await set({
        create: {
          taken: { name: 'Projects', parentId: null },
          slash: { name: 'a/b' },
          role: { name: 'Second trash', role: 'trash' },
          orphan: { name: 'x', parentId: 'm999999' },
          counted: { name: 'y', totalEmails: 3 },
        },
        update: {
          [inbox]: { name: 'Inbox2' },
          [projects]: { parentId: projects },
          m999999: { name: 'z' },
        },
        destroy: [inbox, 'm999998'],
      });
      assert.deepEqual(answer.created, null);
      assert.deepEqual(answer.notCreated.taken.properties, ['name']);
      assert.deepEqual(answer.notCreated.slash.properties, ['name']);
      assert.deepEqual(answer.notCreated.role.properties, ['role']);
      assert.deepEqual(answer.notCreated.orphan.properties, ['parentId']);
      assert.deepEqual(answer.notCreated.counted.properties, ['totalEmails']);
      assert.equal(answer.notUpdated[inbox].type, 'forbidden');
      assert.deepEqual(answer.notUpdated[projects].properties, ['parentId']);
      assert.equal(answer.notUpdated.m999999.type, 'notFound');
      assert.equal(answer.notDestroyed[inbox].type, 'forbidden');
      assert.equal(answer.notDestroyed.m999998.type, 'notFound');
      assert.equal(answer.oldState, answer.newState, 'nothing changed');
    });

    it('destroys a Mailbox with Emails only when asked to remove them, and never one with children', async () => {
      const client = imapflowClient(t.port('imaps'), 'alice@test.example', password);
      await client.connect();
      try {
        await client.mailboxCreate('Old');
        await client.mailboxCreate('Old/Older');
        await client.append('Old', message('kept'));
      } finally {
        await client.logout();
      }
      const [got] = await jam.api.Mailbox.get({ accountId, properties: ['id', 'name'] });
      const old = got.list.find((m) => m.name === 'Old')!.id;
      const older = got.list.find((m) => m.name === 'Older')!.id;
      const refused = await set({ destroy: [old] });
      assert.equal(refused.notDestroyed[old].type, 'mailboxHasChild');
      await set({ destroy: [older] });
      const withMail = await set({ destroy: [old] });
      assert.equal(withMail.notDestroyed[old].type, 'mailboxHasEmail');
      const removed = await set({ destroy: [old], onDestroyRemoveEmails: true });
      assert.deepEqual(removed.destroyed, [old]);
      assert.ok(!(await imapFolders()).all.includes('Old'));

      // A parent and its child destroyed in one call: the child goes first.
      const tree = await set({ create: { p: { name: 'Tree' }, c: { name: 'Leaf', parentId: '#p' } } });
      const both = await set({ destroy: [tree.created.p.id, tree.created.c.id] });
      assert.equal(both.destroyed.length, 2);
      assert.equal(both.notDestroyed, null);

      const stale = await set({ ifInState: removed.oldState, create: { n: { name: 'Never' } } });
      assert.equal(stale.type, 'stateMismatch');
    });
  });
}
