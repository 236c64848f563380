// Partial restore on each backend: after a backup, a user deletes mail (over IMAP) and an event
// (over CalDAV); `holdfast backup recover` puts back exactly what is gone — one folder, one user, a
// time range, a tenant — into "Recovered", byte for byte with its flags, changes nothing else,
// recovers nothing twice, and refuses a selection it cannot honour in one line.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createBackup, type BackupSummary } from '../../src/backup/create-backup.ts';
import { recoverFromBackup, type RecoverySelection } from '../../src/backup/partial-restore.ts';
import { backendNames, skipFor, tempDir } from '../helpers/backends.ts';
import { runHoldfast, loopbackEnv } from '../helpers/cli.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Recover-Drill-42';
const alice = 'alice@test.example';
const bob = 'bob@test.example';

const event = (uid: string, summary: string) =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261201T090000Z',
    'DTSTART:20261215T090000Z',
    'DTEND:20261215T100000Z',
    `SUMMARY:${summary}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

for (const name of backendNames) {
  describe(`partial restore on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let to: string;
    let backup: BackupSummary;
    const calendarUrl = (user: string, file = '') =>
      `http://127.0.0.1:${t.port('http')}/dav/calendars/${user}/calendar/${file}`;
    const auth = (user: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

    const send = async (to: string, subject: string, text = `about ${subject}`) =>
      submission(t.port('submissions'), alice, password).sendMail({ from: alice, to, subject, text });
    /** Every message of a user as folder → subject → { text, flags }. */
    const mailOf = async (user: string) => {
      const client = imapflowClient(t.port('imaps'), user, password);
      await client.connect();
      const folders = new Map<string, Map<string, { text: string; flags: string[] }>>();
      try {
        for (const folder of await client.list()) {
          const messages = new Map<string, { text: string; flags: string[] }>();
          const lock = await client.getMailboxLock(folder.path);
          try {
            for await (const m of client.fetch('1:*', { envelope: true, source: true, flags: true }))
              messages.set(m.envelope!.subject!, { text: m.source!.toString('latin1'), flags: [...m.flags!].sort() });
          } catch (error) {
            if (!/Nothing to fetch|empty/i.test(String(error))) throw error;
          } finally {
            lock.release();
          }
          if (messages.size) folders.set(folder.path, messages);
        }
      } finally {
        await client.logout();
      }
      return folders;
    };
    const recover = (selection: RecoverySelection) =>
      recoverFromBackup(
        backup.dir,
        {
          store: t.node.holdfast.store,
          findOwner: async (address) => {
            const tenant = await t.node.holdfast.directory.tenant('default');
            return tenant.getPrincipal(address).catch(() => undefined);
          },
        },
        selection,
      );

    let before_: Map<string, Map<string, { text: string; flags: string[] }>>;

    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: alice, password });
      await tenant.addPrincipal({ kind: 'user', address: bob, password });
      for (const subject of ['one', 'two', 'three']) await send(alice, subject);
      await send(alice, 'large', 'y'.repeat(400_000)); // above the inline limit
      await send(bob, 'for bob');
      await t.waitFor(
        async () => (await t.mailbox(alice)).length === 4 && (await t.mailbox(bob)).length === 1,
        'delivered',
      );

      const client = imapflowClient(t.port('imaps'), alice, password);
      await client.connect();
      await client.mailboxCreate('Projects');
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageFlagsAdd({ header: { subject: 'one' } }, ['\\Flagged', 'Important']);
        const found = await client.search({ header: { subject: 'three' } });
        assert.ok(found && found.length === 1);
        await client.messageMove(String(found[0]), 'Projects');
      } finally {
        lock.release();
      }
      await client.logout();
      const put = await fetch(calendarUrl(alice, 'review.ics'), {
        method: 'PUT',
        body: event('review-1', 'Quarterly review'),
        headers: { Authorization: auth(alice), 'Content-Type': 'text/calendar' },
      });
      assert.equal(put.status, 201);

      to = await tempDir('holdfast-recover-');
      backup = await createBackup(t.node.holdfast.store, { to });
      before_ = await mailOf(alice);

      // What is lost after the backup: two INBOX messages, the one in Projects, the event, bob's message.
      const again = imapflowClient(t.port('imaps'), alice, password);
      await again.connect();
      for (const [folder, subjects] of [
        ['INBOX', ['one', 'large']],
        ['Projects', ['three']],
      ] as const) {
        const folderLock = await again.getMailboxLock(folder);
        try {
          for (const subject of subjects) await again.messageDelete({ header: { subject } });
        } finally {
          folderLock.release();
        }
      }
      await again.logout();
      const deleted = await fetch(calendarUrl(alice, 'review.ics'), {
        method: 'DELETE',
        headers: { Authorization: auth(alice) },
      });
      assert.equal(deleted.status, 204);
      const bobClient = imapflowClient(t.port('imaps'), bob, password);
      await bobClient.connect();
      const bobLock = await bobClient.getMailboxLock('INBOX');
      await bobClient.messageDelete('1:*');
      bobLock.release();
      await bobClient.logout();
      await send(alice, 'after the backup');
      await t.waitFor(async () => (await t.mailbox(alice)).length === 2, 'the new message delivered');
    });
    after(async () => {
      await t?.stop();
      if (to) await rm(to, { recursive: true, force: true });
    });

    it('recovers one folder: what it lost, byte for byte with its flags, into Recovered/INBOX', async () => {
      const summary = await recover({ user: alice, folder: 'INBOX' });
      assert.deepEqual(summary.messages, { inBackup: 3, alreadyThere: 1, recovered: 2, failed: 0 });
      assert.equal(summary.events.recovered, 0, 'a folder brings back no events');
      const now = await mailOf(alice);
      const recovered = now.get('Recovered/INBOX')!;
      assert.deepEqual([...recovered.keys()].sort(), ['large', 'one']);
      for (const subject of ['one', 'large'])
        assert.deepEqual(recovered.get(subject), before_.get('INBOX')!.get(subject), `${subject}: as it was`);
      assert.ok(recovered.get('one')!.flags.includes('\\Flagged') && recovered.get('one')!.flags.includes('Important'));
      assert.deepEqual([...now.get('INBOX')!.keys()].sort(), ['after the backup', 'two'], 'INBOX itself unchanged');
      assert.equal(now.get('Projects'), undefined, 'Projects not touched');
    });

    it('recovers a whole user: the other folders and the deleted event; nothing twice', async () => {
      const summary = await recover({ user: alice });
      assert.equal(summary.messages.recovered, 1, 'only the message of Projects is still missing');
      assert.equal(summary.events.recovered, 1);
      const now = await mailOf(alice);
      assert.deepEqual(now.get('Recovered/Projects')?.get('three'), before_.get('Projects')!.get('three'));
      const calendar = await fetch(`http://127.0.0.1:${t.port('http')}/dav/calendars/${alice}/recovered/`, {
        method: 'PROPFIND',
        headers: { Authorization: auth(alice), Depth: '1' },
      });
      assert.equal(calendar.status, 207);
      assert.match(await calendar.text(), /review-1|\.ics/);

      const again = await recover({ user: alice });
      assert.equal(again.messages.recovered + again.events.recovered, 0, 'a second run recovers nothing');
      assert.equal(again.messages.alreadyThere, again.messages.inBackup);
    });

    it('recovers a tenant (dry run first), and honours a time range', async () => {
      const dry = await recover({ tenant: 'default', dryRun: true });
      assert.equal(dry.messages.recovered, 1, "bob's message would come back");
      assert.equal((await mailOf(bob)).size, 0, 'a dry run changes nothing');
      const none = await recover({ tenant: 'default', receivedSince: Date.now() + 3_600_000 });
      assert.equal(none.messages.inBackup, 0, 'nothing in the backup was received after that time');
      const summary = await recover({ tenant: 'default' });
      assert.equal(summary.messages.recovered, 1);
      assert.ok((await mailOf(bob)).get('Recovered/INBOX')?.has('for bob'));
    });

    it('refuses, in one line, what it cannot honour', async () => {
      await assert.rejects(recover({ user: 'nobody@test.example' }), /holds no mailbox nobody@test\.example/);
      await assert.rejects(recover({ user: alice, folder: 'Nope' }), /holds no folder Nope of alice@test\.example/);
      await assert.rejects(recover({ tenant: 'default', folder: 'INBOX' }), /--folder needs --user/);
      await assert.rejects(recover({}), /name either a tenant \(--tenant\) or a user \(--user\)/);
      const cli = await runHoldfast(['backup', 'recover', backup.dir, '--user', alice, '--received-since', 'soon'], {
        env: loopbackEnv(t.backend.dataDir, { HOLDFAST_DATABASE_URL: t.backend.databaseUrl ?? '' }),
      });
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /--received-since = soon: not a time/);
    });
  });
}
