// Quarantine end to end on both backends: spam over the tenant's quarantine_score and malware under
// `malware = "quarantine"` are held (real rspamd and clamd), `holdfast quarantine list|show|release|
// delete` on the running server's store, a release reaching the INBOX (seen over IMAP), tenant
// scoping (another tenant's id is not found), and retention.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expireQuarantine, listQuarantine } from '../../src/filtering/quarantine.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliOn, loopbackEnv } from '../helpers/cli.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { eicarAttachment, gtubeAddHeader, startEngines, startFilteringNode, mxClient } from './scan-engines.ts';

const password = 'Wonderland-42';
const engines = await startEngines();
after(() => engines.stop());

for (const name of backendNames) {
  describe(`quarantine on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    let t: TestNode;
    const { holdfast, json } = cliOn(() =>
      loopbackEnv(t.backend.dataDir, { HOLDFAST_DATABASE_URL: t.backend.databaseUrl }),
    );
    const mx = () => mxClient(t);

    before(async () => {
      t = await startFilteringNode(
        name,
        [
          `rspamd_url = "${engines.rspamd!.url}"`,
          `clamd = "${engines.clamd!.address}"`,
          'quarantine_score = 5',
          'malware = "quarantine"',
        ],
        ['alice@test.example'],
        password,
      );
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'boss@test.example', password, role: 'tenant-admin' });
      await t.node.holdfast.directory.addTenant({ name: 'other' });
      const other = await t.node.holdfast.directory.tenant('other');
      await other.addDomain('other.example');
      await other.addPrincipal({ kind: 'user', address: 'chief@other.example', password, role: 'tenant-admin' });
    });
    after(() => t?.stop());

    it('holds spam over quarantine_score and malware by policy, and lists them', async () => {
      await mx().sendMail({
        from: 'ads@remote.example',
        to: 'alice@test.example',
        subject: 'held spam',
        text: gtubeAddHeader,
      });
      await mx().sendMail({
        from: 'worm@remote.example',
        to: 'alice@test.example',
        subject: 'held malware',
        text: 'see attached',
        attachments: [eicarAttachment()],
      });
      const listed = await json('quarantine', 'list', '--tenant', 'default');
      assert.deepEqual(
        listed.map((e: { subject: string; reason: string; recipient: string }) => [e.subject, e.reason, e.recipient]),
        [
          ['held malware', 'malware', 'alice@test.example'],
          ['held spam', 'spam', 'alice@test.example'],
        ],
      );
      assert.match(listed[0].detail, /Eicar-Test-Signature/);
      assert.equal(listed[1].score, 6);
      assert.equal((await t.mailbox('alice@test.example')).length, 0);
      assert.equal((await t.mailbox('alice@test.example', 'Junk')).length, 0);
      const text = await holdfast('quarantine', 'list');
      assert.match(text.stdout, /held spam/);
    });

    it("keeps each tenant to its own: another tenant's id is not found", async () => {
      assert.deepEqual(await json('quarantine', 'list', '--tenant', 'other'), []);
      const [spam] = await listQuarantine(t.node.holdfast.store.db, {}, { reason: 'spam' });
      const shown = await holdfast('quarantine', 'show', String(spam!.id), '--tenant', 'other');
      assert.equal(shown.code, 1);
      assert.match(shown.stderr + shown.stdout, new RegExp(`no quarantined message ${spam!.id} in this tenant`));
      const released = await holdfast('quarantine', 'release', String(spam!.id), '--tenant', 'other');
      assert.equal(released.code, 1);
    });

    it('serves the admin API, each tenant administrator their own tenant only', async () => {
      const api = (user: string, path: string, method = 'GET') =>
        fetch(`http://127.0.0.1:${t.port('http')}/admin/quarantine${path}`, {
          method,
          headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        });
      const [spam] = await listQuarantine(t.node.holdfast.store.db, {}, { reason: 'spam' });
      const own = await (await api('boss@test.example', '')).json();
      assert.deepEqual(
        own.value.map((e: { subject: string }) => e.subject),
        ['held malware', 'held spam'],
      );
      assert.deepEqual(await (await api('chief@other.example', '')).json(), { value: [] });
      const foreign = await api('chief@other.example', `/${spam!.id}`);
      assert.equal(foreign.status, 404);
      assert.equal((await api('chief@other.example', `/${spam!.id}/release`, 'POST')).status, 404);
      assert.equal((await api('chief@other.example', `/${spam!.id}`, 'DELETE')).status, 404);
      const shown = await (await api('boss@test.example', `/${spam!.id}`)).json();
      assert.equal(shown.reason, 'spam');
      const message = await api('boss@test.example', `/${spam!.id}/message`);
      assert.equal(message.headers.get('content-type'), 'message/rfc822');
      assert.match(await message.text(), /Subject: held spam/);
      assert.equal((await api('alice@test.example', '')).status, 403, 'not an administrator');
    });

    it('shows why a message was held, and the whole message', async () => {
      const [spam] = await listQuarantine(t.node.holdfast.store.db, {}, { reason: 'spam' });
      const shown = await holdfast('quarantine', 'show', String(spam!.id));
      assert.match(shown.stdout, /reason: +spam \(score 6\)/);
      assert.match(shown.stdout, /detail: +rspamd: add header, score 6/);
      const full = await holdfast('quarantine', 'show', String(spam!.id), '--text');
      assert.match(full.stdout, /^Received: from /);
      assert.match(full.stdout, /Subject: held spam/);
    });

    it('releases to the INBOX (seen over IMAP), once', async () => {
      const [spam] = await listQuarantine(t.node.holdfast.store.db, {}, { reason: 'spam' });
      const released = await json('quarantine', 'release', String(spam!.id), '--tenant', 'default');
      assert.equal(released.folder, 'INBOX');
      const imap = imapflowClient(t.port('imaps'), 'alice@test.example', password);
      await imap.connect();
      try {
        const lock = await imap.getMailboxLock('INBOX');
        try {
          const messages = [];
          for await (const m of imap.fetch('1:*', { envelope: true, flags: true })) messages.push(m);
          assert.deepEqual(
            messages.map((m) => m.envelope?.subject),
            ['held spam'],
          );
          assert.ok(!messages[0]!.flags?.has('$Junk'));
        } finally {
          lock.release();
        }
      } finally {
        await imap.logout();
      }
      const again = await holdfast('quarantine', 'release', String(spam!.id));
      assert.equal(again.code, 1, 'a released message is no longer held');
    });

    it('deletes, and expires after the retention', async () => {
      const [malware] = await listQuarantine(t.node.holdfast.store.db, {}, { reason: 'malware' });
      await mx().sendMail({
        from: 'ads@remote.example',
        to: 'alice@test.example',
        subject: 'old spam',
        text: gtubeAddHeader,
      });
      assert.deepEqual(await json('quarantine', 'delete', String(malware!.id)), { id: malware!.id, deleted: true });
      const [old] = await listQuarantine(t.node.holdfast.store.db, {});
      assert.equal(old!.subject, 'old spam');
      assert.equal(old!.expiresAt - old!.receivedAt, 30 * 86_400_000, '30 days by default');
      assert.equal(await expireQuarantine(t.node.holdfast.store.db, old!.expiresAt - 1), 0);
      assert.equal(await expireQuarantine(t.node.holdfast.store.db, old!.expiresAt), 1);
      assert.deepEqual(await json('quarantine', 'list'), []);
    });
  });
}
