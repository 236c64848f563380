// IMAP as a real client sees it: imapflow over TLS against a node on each backend, with mail arriving
// over SMTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type CopyResponseObject, type StatusObject } from 'imapflow';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`IMAP with imapflow on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    const clients: ImapFlow[] = [];

    const connect = async (user = 'alice@test.example') => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: t.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user, pass: password },
        logger: false,
      });
      await client.connect();
      clients.push(client);
      return client;
    };
    const send = (to: string, subject: string, extra: object = {}) =>
      submission(t.port('submissions'), 'bob@test.example', password).sendMail({
        from: 'bob@test.example',
        to,
        subject,
        text: `Hello about ${subject}`,
        ...extra,
      });
    const delivered = (address: string, count: number) =>
      t.waitFor(async () => (await t.mailbox(address)).length >= count, `${count} messages for ${address}`);

    before(async () => {
      t = await startTestNode(name, { toml: '[queue]\npoll_interval = "100ms"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.logout().catch(() => {})));
      await t.stop();
    });

    it('logs in, lists the special-use folders and reads a delivered message', async () => {
      await send('alice@test.example', 'First light', {
        html: '<p>Hello <b>world</b></p>',
        attachments: [{ filename: 'notes.txt', content: 'attached words' }],
      });
      await delivered('alice@test.example', 1);
      const client = await connect();
      const folders = await client.list();
      const byName = Object.fromEntries(folders.map((f) => [f.path, f.specialUse ?? '']));
      assert.deepEqual(byName, {
        INBOX: '\\Inbox',
        Drafts: '\\Drafts',
        Sent: '\\Sent',
        Trash: '\\Trash',
        Junk: '\\Junk',
        Archive: '\\Archive',
      });

      const lock = await client.getMailboxLock('INBOX');
      try {
        assert.equal((client.mailbox as { exists: number }).exists, 1);
        const message = await client.fetchOne('*', {
          uid: true,
          envelope: true,
          bodyStructure: true,
          flags: true,
          size: true,
          source: true,
          headers: ['subject'],
        });
        assert.ok(message);
        assert.equal(message.envelope?.subject, 'First light');
        assert.equal(message.envelope?.from?.[0]?.address, 'bob@test.example');
        assert.equal(message.bodyStructure?.type, 'multipart/mixed');
        assert.equal(message.bodyStructure?.childNodes?.length, 2);
        assert.equal(message.size, message.source?.length);
        assert.match(message.source!.toString(), /Hello about First light/);
        assert.match(message.headers!.toString(), /^Subject: First light/i);
        assert.deepEqual([...(message.flags ?? [])], []);

        // A body part by number, decoded by the client; reading it sets \Seen.
        const part = await client.download(String(message.uid), '2', { uid: true });
        const chunks: Buffer[] = [];
        for await (const chunk of part.content!) chunks.push(chunk as Buffer);
        assert.equal(Buffer.concat(chunks).toString(), 'attached words');
      } finally {
        lock.release();
      }
    });

    it('stores flags, searches, copies, moves and expunges with UIDPLUS answers', async () => {
      await send('alice@test.example', 'Quarterly numbers');
      await send('alice@test.example', 'Lunch plans');
      await delivered('alice@test.example', 3);
      const client = await connect();
      const lock = await client.getMailboxLock('INBOX');
      try {
        const found = (await client.search({ subject: 'quarterly' }, { uid: true })) as number[];
        assert.equal(found.length, 1);
        const uid = found[0]!;
        assert.ok(await client.messageFlagsAdd({ uid: String(uid) }, ['\\Flagged', '$Important'], { uid: true }));
        const flagged = await client.search({ flagged: true }, { uid: true });
        assert.deepEqual(flagged, [uid]);
        assert.deepEqual(await client.search({ body: 'lunch' }, { uid: true }), [uid + 1]);

        const copied = (await client.messageCopy(String(uid), 'Archive', { uid: true })) as CopyResponseObject;
        assert.equal(copied.uidMap?.size, 1);
        const moved = (await client.messageMove(String(uid), 'Trash', { uid: true })) as CopyResponseObject;
        assert.equal(moved.uidMap?.size, 1);
        assert.equal((client.mailbox as { exists: number }).exists, 2);
        const status = (await client.status('Trash', { messages: true, unseen: true })) as StatusObject;
        assert.equal(status.messages, 1);
      } finally {
        lock.release();
      }
      const trash = await t.mailbox('alice@test.example', 'Trash');
      const [trashed] = trash;
      assert.ok(trashed, 'the moved message is in Trash');
      assert.match(trashed.flags, /\$Important/);
    });

    it('appends a draft and creates, renames and deletes folders', async () => {
      const client = await connect();
      const appended = await client.append(
        'Drafts',
        'From: alice@test.example\r\nSubject: Draft one\r\n\r\nNot finished.\r\n',
        ['\\Draft'],
      );
      assert.ok(appended !== false && appended.uid);
      await client.mailboxCreate(['Projects', 'Holdfast']);
      await client.mailboxRename('Projects', 'Work');
      const paths = (await client.list()).map((f) => f.path);
      assert.ok(paths.includes('Work/Holdfast'), paths.join(','));
      assert.ok(!paths.includes('Projects/Holdfast'));
      await client.mailboxDelete('Work/Holdfast');
      assert.ok(!(await client.list()).some((f) => f.path === 'Work/Holdfast'));
      assert.equal((await client.mailboxCreate('INBOX')).created, false);
    });

    it('wakes an IDLE client when mail is delivered', async () => {
      const client = await connect();
      await client.mailboxOpen('INBOX');
      const before = (client.mailbox as { exists: number }).exists;
      const arrived = new Promise<number>((resolve) =>
        client.on('exists', (data: { count: number }) => resolve(data.count)),
      );
      // imapflow enters IDLE by itself once the folder is open and nothing else is running.
      void client.idle();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await send('alice@test.example', 'Wake up');
      const count = await Promise.race([
        arrived,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error('IDLE did not wake')), 10_000)),
      ]);
      assert.equal(count, before + 1);
    });

    it('refuses a wrong password and keeps tenants apart', async () => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: t.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'alice@test.example', pass: 'wrong-password' },
        logger: false,
      });
      await assert.rejects(client.connect());
      const bob = await connect('bob@test.example');
      const bobInbox = (await bob.status('INBOX', { messages: true })) as StatusObject;
      assert.equal(bobInbox.messages, 0);
    });

    it('shows shared mailboxes under the shared namespace to users granted full access', async () => {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'shared', address: 'support@test.example', displayName: 'Support' });
      await tenant.grant('support@test.example', 'bob@test.example', { fullAccess: true, sendAs: false });
      await send('support@test.example', 'Printer on fire');
      await delivered('support@test.example', 1);

      const bob = await connect('bob@test.example');
      const paths = (await bob.list()).map((f) => f.path);
      assert.ok(paths.includes('Shared/support@test.example/INBOX'), paths.join(', '));
      assert.ok(paths.includes('Shared/support@test.example/Sent'));
      const lock = await bob.getMailboxLock('Shared/support@test.example/INBOX');
      try {
        const message = await bob.fetchOne('*', { envelope: true, uid: true });
        assert.equal(message !== false && message.envelope?.subject, 'Printer on fire');
        // Filing it in the shared mailbox's own Archive works like in one's own mailbox.
        const moved = (await bob.messageMove('1:*', 'Shared/support@test.example/Archive')) as CopyResponseObject;
        assert.equal(moved.uidMap?.size, 1);
      } finally {
        lock.release();
      }
      assert.equal((await t.mailbox('support@test.example', 'Archive')).length, 1);

      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await talk.login('bob@test.example', password);
      assert.match(await talk.command('NAMESPACE'), /\* NAMESPACE \(\("" "\/"\)\) NIL \(\("Shared\/" "\/"\)\)/);
      assert.match(
        await talk.command('MYRIGHTS "Shared/support@test.example/INBOX"'),
        /\* MYRIGHTS "Shared\/support@test\.example\/INBOX" lrswipkxtecd\r\n/,
      );
      assert.match(await talk.command('MYRIGHTS INBOX'), /\* MYRIGHTS "?INBOX"? lrswipkxtecda/);
      assert.match(await talk.command('GETACL "Shared/support@test.example/INBOX"'), /NO \[NOPERM\]/);
      assert.match(
        await talk.command('SETACL INBOX alice@test.example lr'),
        /NO \[NOPERM\] Access to a mailbox is granted by an administrator/,
      );
      assert.match(await talk.command('CREATE "Shared/support@test.example/Mine"'), /NO \[NOPERM\]/);
      // IMAP4rev2's SELECT lists the folder under the name LIST gives it, whatever case the client used.
      await talk.command('ENABLE IMAP4rev2');
      assert.match(
        await talk.command('EXAMINE "Shared/SUPPORT@test.example/inbox"'),
        /\* LIST \(\\HasNoChildren\) "\/" "Shared\/support@test\.example\/INBOX"\r\n/,
      );
      talk.close();

      // Without a grant the shared folders do not exist, as far as alice can tell.
      const alice = await connect('alice@test.example');
      assert.ok(!(await alice.list()).some((f) => f.path.startsWith('Shared/')));
      await assert.rejects(alice.mailboxOpen('Shared/support@test.example/INBOX'));
      const { talk: owner } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await owner.login('alice@test.example', password);
      assert.match(await owner.command('STATUS "Shared/support@test.example/INBOX" (MESSAGES)'), /NO \[NONEXISTENT\]/);
      owner.close();
    });
  });
}
