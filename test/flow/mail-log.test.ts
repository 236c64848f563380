// The log lines an administrator greps (docs/operations.md, "Log lines"): one per message received
// and one per recipient outcome, with one key per meaning; SMTP refusals name the user an AUTH tried.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { LogCapture, type LogRecord } from '../helpers/log-capture.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { plainAuth, SmtpTalk } from '../helpers/smtp-talk.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`mail log lines on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let mx: FakeMx;
    const log = new LogCapture();

    const submit = (subject: string, to: string[]) =>
      submission(t.port('submissions'), 'alice@test.example', password).sendMail({
        from: 'alice@test.example',
        to,
        subject,
        text: `about ${subject}`,
      });
    const line = (msg: string, where: (r: LogRecord) => boolean, what: string) =>
      t.waitFor(async () => log.records(msg).find(where), `${msg}: ${what}`);

    before(async () => {
      mx = await new FakeMx().start();
      t = await startTestNode(name, {
        logger: log.logger,
        toml: `[queue]\npoll_interval = "100ms"\nretry = ["10m"]\nremote_port = ${mx.port}\n`,
      });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      await tenant.addAlias('robert@test.example', 'bob@test.example');
      t.dns.set('remote.example', { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
      t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
    });
    after(async () => {
      await t.stop();
      await mx.stop();
    });

    it('logs each message received and each recipient delivered, locally and remotely', async () => {
      const info = await submit('logged mail', ['robert@test.example', 'carol@remote.example']);
      const queueId = Number(/queued as (\d+)/.exec(info.response)![1]);
      const received = await line('mail received', (r) => r.queueId === queueId, 'the submission');
      assert.equal(typeof received.session, 'string');
      assert.equal(received.sender, 'alice@test.example');
      assert.equal(received.nrcpt, 2);
      assert.equal(received.client, '127.0.0.1');
      assert.equal(received.user, 'alice@test.example');
      assert.equal(received.source, 'submission');
      assert.equal(received.component, 'mail');
      assert.ok((received.size as number) > 100);

      const local = await line(
        'mail delivered',
        (r) => r.queueId === queueId && r.recipient === 'bob@test.example',
        'to bob',
      );
      assert.equal(local.originalRecipient, 'robert@test.example');
      assert.equal(local.relay, 'local');
      assert.match(local.reply as string, /^250 2\.0\.0 delivered to bob@test\.example INBOX \(uid \d+\)$/);
      assert.equal(local.attempts, 1);
      assert.equal(local.status, 'delivered');
      assert.equal(local.sender, 'alice@test.example');
      assert.ok(typeof local.delay === 'number' && local.delay >= 0 && local.delay < 10);

      const remote = await line(
        'mail delivered',
        (r) => r.queueId === queueId && r.recipient === 'carol@remote.example',
        'to carol',
      );
      assert.equal(remote.relay, 'mx.remote.example');
      assert.match(remote.reply as string, /^250 /);
      assert.equal(remote.originalRecipient, undefined, 'only when it differs from the recipient');
    });

    it('logs deferrals with the next attempt, and bounces with the queue id of their DSN', async () => {
      mx.script = {
        rcpt: (address) =>
          address.startsWith('grey')
            ? { code: 451, message: '4.7.1 greylisted' }
            : address.startsWith('ghost')
              ? { code: 550, message: '5.1.1 no such user' }
              : undefined,
      };
      try {
        const info = await submit('unlucky mail', ['grey@remote.example', 'ghost@remote.example']);
        const queueId = Number(/queued as (\d+)/.exec(info.response)![1]);
        const deferred = await line('mail deferred', (r) => r.queueId === queueId, 'grey');
        assert.equal(deferred.recipient, 'grey@remote.example');
        assert.match(deferred.reply as string, /^451 4\.7\.1 greylisted/);
        assert.equal(deferred.attempts, 1);
        assert.match(deferred.nextAttempt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.ok(
          Math.abs(Date.parse(deferred.nextAttempt as string) - (t.clock.now() + 600_000)) < 10_000,
          'ten minutes later',
        );

        const bounced = await line('mail bounced', (r) => r.queueId === queueId, 'ghost');
        assert.equal(bounced.recipient, 'ghost@remote.example');
        assert.equal(bounced.relay, 'mx.remote.example');
        assert.match(bounced.reply as string, /^550 5\.1\.1 no such user/);
        assert.equal(typeof bounced.dsnQueueId, 'number');
        const dsn = await line('mail received', (r) => r.queueId === bounced.dsnQueueId, 'the DSN');
        assert.equal(dsn.sender, '');
        assert.equal(dsn.source, 'dsn');
        await line(
          'mail delivered',
          (r) => r.queueId === bounced.dsnQueueId && r.recipient === 'alice@test.example',
          'the DSN to alice',
        );
      } finally {
        mx.script = {};
      }
    });

    it('logs the user name a failed AUTH tried, never the password', async () => {
      const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await talk.send('EHLO client.example');
      assert.equal(
        await talk.send(`AUTH PLAIN ${plainAuth('Alice@Test.example', 'not-Her-Password-7')}`),
        '535 5.7.8 Authentication credentials invalid',
      );
      talk.close();
      const refused = await line('smtp: refused', (r) => r.step === 'auth', 'the AUTH');
      assert.equal(refused.user, 'Alice@Test.example');
      assert.equal(refused.reply, '535 5.7.8 Authentication credentials invalid');
      assert.ok(!log.lines.some((l) => l.includes('not-Her-Password-7')));
    });

    it('writes every key once per line (IMAP sessions included)', async () => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: t.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'bob@test.example', pass: password },
        logger: false,
        clientInfo: { name: 'log-test' },
      });
      await client.connect();
      await client.logout();
      const identified = await line('imap: client identified itself', () => true, 'IMAP ID');
      assert.deepEqual(log.duplicateKeys(), []);
      assert.equal(identified.client, '127.0.0.1', 'the address, as on every session line');
      assert.equal((identified.imapId as Record<string, string>).name, 'log-test');
    });
  });

  describe(`submission without AUTH on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
    });
    after(() => t.stop());

    it('answers 530 5.7.0 Authentication required, as the docs say, on 587 after STARTTLS and on 465', async () => {
      const { talk } = await SmtpTalk.open(t.port('submission'));
      await talk.send('EHLO client.example');
      assert.equal(
        await talk.send('MAIL FROM:<alice@test.example>'),
        '530 5.7.0 Authentication required',
        'before STARTTLS',
      );
      await talk.startTls();
      await talk.send('EHLO client.example');
      assert.equal(
        await talk.send('MAIL FROM:<alice@test.example>'),
        '530 5.7.0 Authentication required',
        'after STARTTLS',
      );
      talk.close();
      const implicit = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await implicit.talk.send('EHLO client.example');
      assert.equal(await implicit.talk.send('MAIL FROM:<alice@test.example>'), '530 5.7.0 Authentication required');
      implicit.talk.close();
    });
  });
}
