// Outbound spam: a user whose submitted mail rspamd takes for spam outbound_spam_limit times within an
// hour has their sending paused (550 5.7.1 at MAIL FROM) and the administrators get an alert, until
// `holdfast senders resume`. And the daily quarantine digest to each user with held messages. Both
// backends, a real rspamd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MessageFilter } from '../../src/filtering/message-filter.ts';
import { pausedSenders } from '../../src/filtering/outbound-spam.ts';
import { createNoticeSender } from '../../src/flow/intake/notice-mail.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliOn, loopbackEnv } from '../helpers/cli.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { gtubeAddHeader, startEngines, startFilteringNode, mxClient } from './scan-engines.ts';

const password = 'Wonderland-42';
const engines = await startEngines();
after(() => engines.stop());

for (const name of backendNames) {
  describe(`outbound spam and quarantine digests on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    let t: TestNode;
    const { json } = cliOn(() => loopbackEnv(t.backend.dataDir, { HOLDFAST_DATABASE_URL: t.backend.databaseUrl }));
    before(async () => {
      t = await startFilteringNode(
        name,
        [`rspamd_url = "${engines.rspamd!.url}"`, 'outbound_spam_limit = 2', 'quarantine_score = 5'],
        ['alice@test.example', 'bob@test.example'],
        password,
      );
    });
    after(() => t?.stop());

    it('pauses a user who submits spam, alerts the administrators, and resumes', async () => {
      const send = (subject: string, text: string) =>
        submission(t.port('submissions'), 'alice@test.example', password).sendMail({
          from: 'alice@test.example',
          to: 'someone@remote.example',
          subject,
          text,
        });
      // Spam submitted once: a strike; twice: the limit (2), sending paused.
      await send('spam one', gtubeAddHeader);
      await send('spam two', gtubeAddHeader);
      const [paused] = await pausedSenders(t.node.holdfast.store.db);
      assert.equal(paused!.strikes, 2);
      await assert.rejects(send('after the pause', 'an ordinary message'), (error: Error & { response?: string }) => {
        assert.match(error.response ?? '', /^550 5\.7\.1 Sending is paused for alice@test\.example since /);
        return true;
      });
      const alert = await t.waitFor(
        async () => (await t.mailbox('admin@test.example')).find((m) => m.text.includes('Sending paused')),
        "the alert in the administrator's INBOX",
      );
      assert.match(alert.text, /holdfast senders resume alice@test\.example/);
      assert.match(alert.text, /Auto-Submitted: auto-generated/);
      assert.deepEqual(
        (await json('senders', 'paused')).map((p: { user: string }) => p.user),
        ['alice@test.example'],
      );
      assert.deepEqual(await json('senders', 'resume', 'alice@test.example'), {
        user: 'alice@test.example',
        resumed: true,
      });
      await send('after resuming', 'an ordinary message');
    });

    it('mails each user with held messages a digest, at most daily', async () => {
      const mx = mxClient(t);
      await mx.sendMail({
        from: 'ads@remote.example',
        to: 'bob@test.example',
        subject: 'held one',
        text: gtubeAddHeader,
      });
      await mx.sendMail({
        from: 'ads@remote.example',
        to: 'bob@test.example',
        subject: 'held two',
        text: gtubeAddHeader,
      });
      const { config, store, flow } = t.node.holdfast;
      const filter = new MessageFilter(config.filtering, {
        db: store.db,
        tenantName: async () => 'default',
        sendNotice: createNoticeSender({ config, store, committer: flow.committer, now: Date.now }),
        now: Date.now,
      });
      await filter.sendDigests(Date.now());
      const digest = await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('held in quarantine')),
        "the digest in bob's INBOX",
      );
      assert.match(digest.text, /Subject: 2 messages held in quarantine for bob@test\.example/);
      assert.match(digest.text, /held one/);
      assert.match(digest.text, /held two/);
      // Another held message the same day waits for tomorrow's digest.
      await mx.sendMail({
        from: 'ads@remote.example',
        to: 'bob@test.example',
        subject: 'held three',
        text: gtubeAddHeader,
      });
      await filter.sendDigests(Date.now());
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(
        (await t.mailbox('bob@test.example')).filter((m) => m.text.includes('held in quarantine')).length,
        1,
      );
      await filter.sendDigests(Date.now() + 86_400_001);
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('1 message held in quarantine')),
        "the next day's digest",
      );
    });
  });
}
