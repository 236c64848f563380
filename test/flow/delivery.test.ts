import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from 'mailauth';
import { createMailDns } from '../../src/flow/dns.ts';
import { DkimKeys, dnsRecordName, dnsRecordValue } from '../../src/flow/dkim-keys.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`remote delivery on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let mx: FakeMx;
    let relay: FakeMx;

    const send = (subject: string, to: string | string[], extra: { dsn?: object } = {}) =>
      submission(t.port('submissions'), 'alice@test.example', password).sendMail({
        from: 'alice@test.example',
        to,
        subject,
        text: `about ${subject}`,
        ...extra,
      });
    const states = async (subject: string) =>
      t.node.holdfast.store.db
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.recipient', 'r.state', 'r.attempts', 'r.next_attempt_at', 'r.last_reply', 'm.id as messageId'])
        .where('m.subject', '=', subject)
        .orderBy('r.recipient')
        .execute();
    const settle = (subject: string, state: string) =>
      t.waitFor(
        async () => (await states(subject)).every((r) => r.state === state) && (await states(subject)).length > 0,
        `${subject}: ${state}`,
      );

    before(async () => {
      mx = await new FakeMx().start();
      relay = await new FakeMx({ auth: { user: 'relayuser', pass: 'relay-secret' } }).start();
      t = await startTestNode(name, {
        toml: [
          '[queue]',
          'retry = ["1m", "5m"]',
          'delay_notice = "4m"',
          'expire = "10m"',
          'poll_interval = "100ms"',
          `remote_port = ${mx.port}`,
          '[[relay]]',
          'domains = ["partner.example"]',
          `url = "smtp://relayuser:relay-secret@127.0.0.1:${relay.port}"`,
          '',
        ].join('\n'),
      });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      t.dns.set('remote.example', { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
      t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      t.dns.set('nomx.example', { A: ['127.0.0.1'] });
    });
    after(async () => {
      await t.stop();
      await mx.stop();
      await relay.stop();
    });

    it('delivers to the MX of the recipient domain, with our headers', async () => {
      mx.script = {};
      await send('first contact', ['bob@remote.example', 'Carol.Case@Remote.Example']);
      await settle('first contact', 'delivered');
      const got = mx.received.find((m) => m.data.includes('Subject: first contact'))!;
      assert.deepEqual(
        got.to,
        ['bob@remote.example', 'Carol.Case@remote.example'],
        'one transaction for both recipients of the domain; a local part keeps its case (RFC 5321 §2.4)',
      );
      assert.equal(got.from, 'alice@test.example');
      assert.match(got.data, /^Received: from .*\r\n\tby mail\.test\.example \(Holdfast\) with ESMTPSA/);
      const trace = await t.node.holdfast.store.db
        .selectFrom('trace_events')
        .select(['event', 'detail'])
        .where('message_id', '=', (await states('first contact'))[0]!.messageId)
        .orderBy('id')
        .execute();
      assert.deepEqual([...new Set(trace.map((e) => e.event))], ['received', 'queued', 'delivered']);
      assert.match(JSON.parse(trace.at(-1)!.detail).reply, /^250 /);

      // Signed with the domain's DKIM key; a receiver that finds the published record verifies it.
      assert.match(got.data, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=test\.example;/m);
      const key = await new DkimKeys(t.node.holdfast.store.db).active('test.example');
      t.dns.set(dnsRecordName(key), { TXT: [dnsRecordValue(key)] });
      const verdict = await authenticate(got.data, {
        ip: '127.0.0.1',
        helo: 'mail.test.example',
        sender: 'alice@test.example',
        mta: 'mx.remote.example',
        resolver: createMailDns([t.dns.server]).resolve as never,
      });
      assert.equal((verdict.dkim as { results: { status: { result: string } }[] }).results[0]!.status.result, 'pass');
    });

    it("falls back to the domain's own address when it has no MX", async () => {
      await send('no mx record', 'dave@nomx.example');
      await settle('no mx record', 'delivered');
    });

    it('sends through a relay route with authentication', async () => {
      await send('via smart host', 'erin@partner.example');
      await settle('via smart host', 'delivered');
      assert.ok(relay.received.some((m) => m.data.includes('Subject: via smart host')));
      assert.ok(!mx.received.some((m) => m.data.includes('Subject: via smart host')));
    });

    it('bounces a 5xx refusal with a DSN to the sender', async () => {
      mx.script = {
        rcpt: (address) =>
          address.startsWith('ghost')
            ? { code: 550, message: '5.1.1 <ghost@remote.example>: no such user' }
            : undefined,
      };
      await send('to a ghost', ['ghost@remote.example', 'frank@remote.example']);
      await t.waitFor(async () => {
        const s = await states('to a ghost');
        return (
          s.find((r) => r.recipient === 'ghost@remote.example')?.state === 'failed' &&
          s.find((r) => r.recipient === 'frank@remote.example')?.state === 'delivered'
        );
      }, 'one failed, one delivered');
      const dsn = await t.waitFor(
        async () =>
          (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Undelivered Mail Returned to Sender')),
        "DSN in the sender's inbox",
      );
      assert.match(dsn.text, /Content-Type: multipart\/report; report-type=delivery-status;/);
      assert.match(dsn.text, /^From: Mail Delivery System <MAILER-DAEMON@mail\.test\.example>/m);
      assert.match(
        dsn.text,
        /Final-Recipient: rfc822; ghost@remote\.example\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.example\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <ghost@remote\.example>: no such user/,
      );
      assert.match(dsn.text, /Content-Type: text\/rfc822-headers\r\n\r\n[\s\S]*Subject: to a ghost/);
      assert.doesNotMatch(
        dsn.text,
        /Final-Recipient: rfc822; frank@remote\.example/,
        'the delivered recipient is not reported',
      );
      mx.script = {};
    });

    it('defers a 4xx, retries on the schedule, then delivers', async () => {
      let refuse = true;
      mx.script = { rcpt: () => (refuse ? { code: 451, message: '4.7.1 greylisted, try again later' } : undefined) };
      await send('greylisted', 'gina@remote.example');
      await settle('greylisted', 'deferred');
      const [deferred] = await states('greylisted');
      assert.equal(deferred!.attempts, 1);
      assert.match(deferred!.last_reply!, /^451 4\.7\.1 greylisted/);
      assert.ok(
        Math.abs(deferred!.next_attempt_at - (t.clock.now() + 60_000)) < 5_000,
        'next attempt one minute later (retry[0])',
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await states('greylisted'))[0]!.state, 'deferred', 'not retried before it is due');
      refuse = false;
      t.clock.advance(61_000);
      await settle('greylisted', 'delivered');
      assert.equal((await states('greylisted'))[0]!.attempts, 2);
      mx.script = {};
    });

    it('backs off a destination that answers 421, and recovers', async () => {
      mx.script = {
        connect: () => ({
          code: 421,
          message:
            '4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit, closing transmission channel',
        }),
      };
      mx.dropConnections();
      // An outcome is committed before the runner takes it in (and adjusts the concurrency): wait
      // until no delivery to the destination is in hand before each reading of its limit.
      const destination = () => t.node.holdfast.destinations.state('remote.example');
      const limit = () => destination().limit;
      const idle = (what: string) =>
        t.waitFor(async () => destination().active === 0, what, 5000).catch(() => undefined);
      // Earlier deliveries grew the destination's concurrency; how far depends on their timing.
      await idle('the earlier deliveries to be taken in');
      const before = limit();
      await send('busy forest', 'hank@remote.example');
      await settle('busy forest', 'deferred');
      assert.match(
        (await states('busy forest'))[0]!.last_reply!,
        /^421 4\.3\.2 The maximum number of concurrent connections per resource forest/,
      );
      await idle('the runner to take in the 421');
      const shrunk = limit();
      assert.ok(shrunk <= Math.max(1, Math.floor(before / 2)), `concurrency at least halved (${before} → ${shrunk})`);
      mx.script = {};
      t.clock.advance(61_000);
      await settle('busy forest', 'delivered');
      await idle('the runner to take in the delivery');
      assert.equal(limit(), shrunk + 1, 'grows again on success');
    });

    it('sends a delay notice once, then expires with a final DSN', async () => {
      mx.script = { rcpt: () => ({ code: 452, message: '4.2.2 mailbox temporarily full' }) };
      await send('stuck mail', 'ivan@remote.example');
      await settle('stuck mail', 'deferred');
      t.clock.advance(5 * 60_000); // past delay_notice (4m)
      await t.node.holdfast.flow.queue.sendDelayNotices();
      const delayed = await t.waitFor(
        async () =>
          (await t.mailbox('alice@test.example')).find(
            (m) => m.text.includes('Delayed Mail') && m.text.includes('stuck mail'),
          ),
        'delay notice',
      );
      assert.match(delayed.text, /Action: delayed\r\nStatus: 4\.2\.2/);
      assert.match(delayed.text, /Will-Retry-Until: /);
      assert.equal(await t.node.holdfast.flow.queue.sendDelayNotices(), 0, 'only one delay notice');
      t.clock.advance(6 * 60_000); // past expire (10m)
      await settle('stuck mail', 'failed');
      const expired = await t.waitFor(
        async () =>
          (await t.mailbox('alice@test.example')).find(
            (m) => m.text.includes('Undelivered Mail') && m.text.includes('stuck mail'),
          ),
        'expiry DSN',
      );
      assert.match(expired.text, /message expired after/);
      mx.script = {};
    });

    it('never sends a DSN for a message with the null sender', async () => {
      mx.script = { rcpt: () => ({ code: 550, message: '5.1.1 no such user' }) };
      const { insertMessage } = await import('../../src/flow/queue/intake-committer.ts');
      const { db, blobs } = t.node.holdfast.store;
      const blob = await blobs.put(Buffer.from('From: <>\r\nSubject: bounce of a bounce\r\n\r\nx\r\n'));
      const before = await db.selectFrom('queue_messages').select('id').where('source', '=', 'dsn').execute();
      await db.transaction().execute((trx) =>
        insertMessage(
          trx,
          {
            blobHash: blob.hash,
            prefix: '',
            size: blob.size,
            sender: '',
            subject: 'bounce of a bounce',
            source: 'dsn',
            receivedAt: t.clock.now(),
            recipients: [
              {
                recipient: 'jack@remote.example',
                originalRecipient: 'jack@remote.example',
                route: 'remote',
                domain: 'remote.example',
                tenantId: null,
              },
            ],
            receivedDetail: {},
          },
          t.node.holdfast.store.dialect,
        ),
      );
      t.node.holdfast.flow.newMail.raise();
      await settle('bounce of a bounce', 'failed');
      const extra = await db
        .selectFrom('queue_messages')
        .select(['id', 'subject'])
        .where('source', '=', 'dsn')
        .where(
          'id',
          'not in',
          before.map((b) => b.id),
        )
        .execute();
      assert.deepEqual(
        extra.map((m) => m.subject),
        ['bounce of a bounce'],
        'no DSN besides the test message itself',
      );
      mx.script = {};
    });
  });
}
