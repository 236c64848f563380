// Continuity mode end to end, on each store backend: a scripted upstream on loopback (the
// provider) answers "421 4.3.2 … resource forest …" at every connection for a while, then
// recovers. Mail for its domain arrives meanwhile; the event must start by itself, the users read
// every message over IMAP (imapflow) during the event and their reply reaches the outside, and after
// recovery exactly the messages held reach the upstream, none twice, and the event closes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { continuityStatus, type UpstreamStatus } from '../../src/continuity/continuity-status.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { startContinuityNode } from './continuity-node.ts';

const password = 'Continuity-Works-77';
const users = ['alice@contoso.example', 'bob@contoso.example'];
const held = 12;

for (const backend of backendNames) {
  describe(`continuity mode (${backend})`, { skip: skipFor(backend) }, () => {
    let t: TestNode;
    let upstream: FakeMx;
    let outside: FakeMx;
    let outage = true;

    before(async () => {
      upstream = await new FakeMx().start();
      upstream.script.connect = () =>
        outage
          ? {
              code: 421,
              message: '4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit',
            }
          : undefined;
      outside = await new FakeMx().start();
      t = await startContinuityNode(backend, {
        upstreamPort: upstream.port,
        outsidePort: outside.port,
        settings: ['activate_after = "3s"', 'probe_interval = "300ms"', 'probe_timeout = "2s"'],
        users,
        password,
      });
    });

    after(async () => {
      await t?.stop();
      await upstream?.stop();
      await outside?.stop();
    });

    const status = async (): Promise<UpstreamStatus> => {
      const { store, config, now } = t.node.holdfast;
      return (await continuityStatus(store.db, store.dialect, config.continuity, now()))[0]!;
    };

    it('holds the mail, lets users read and reply during the event, and replays each message once', async () => {
      const mx = nodemailer.createTransport({
        host: '127.0.0.1',
        port: t.port('smtp'),
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      for (let i = 0; i < held; i++)
        await mx.sendMail({
          envelope: { from: 'sender@partner.example', to: users[i % users.length]! },
          from: 'sender@partner.example',
          to: users[i % users.length]!,
          subject: `held ${i}`,
          messageId: `<held-${i}@partner.example>`,
          text: `message ${i} written while the upstream was down`,
        });

      // Normal operation first: nothing copied while the upstream has not failed long enough. The
      // probe has seen it fail since the node started, so this is checked only when its first failure
      // is well within activate_after (on a loaded machine start-up and sending may take longer).
      const early = await status();
      if (early.failingSince === null || Date.now() - early.failingSince < 2000) {
        assert.equal(early.state, 'normal');
        assert.equal((await t.mailbox(users[0]!)).length, 0);
      }

      // The event starts by itself, within activate_after and a couple of probe rounds.
      const active = await t.waitFor(async () => {
        const s = await status();
        return s.state === 'active' && s;
      }, 'the continuity event to start');
      // From the probe's first failure to the event: activate_after and a few probe rounds.
      const detected = active.event!.startedAt - active.failingSince!;
      assert.ok(detected >= 3000 && detected < 3000 + 3000, `detected after ${detected} ms`);
      assert.equal(active.event!.startedBy, 'automatic');
      const metric = (name: string) => t.node.holdfast.metrics.registry.getSingleMetricAsString(name);
      assert.match(await metric('holdfast_continuity_state'), /holdfast_continuity_state\{upstream="exchange"\} 1/);
      assert.match(active.lastReplies.map((r) => r.reply).join('\n'), /421 4\.3\.2/);

      // Users read every message over IMAP during the event.
      for (const [u, address] of users.entries()) {
        const expected = Array.from({ length: held }, (_, i) => i).filter((i) => i % users.length === u);
        const client = imapflowClient(t.port('imaps'), address, password);
        await client.connect();
        try {
          const subjects = await t.waitFor(async () => {
            const lock = await client.getMailboxLock('INBOX');
            try {
              const seen: string[] = [];
              if (client.mailbox && client.mailbox.exists > 0)
                for await (const m of client.fetch('1:*', { envelope: true })) seen.push(m.envelope!.subject!);
              return seen.length === expected.length && seen;
            } finally {
              lock.release();
            }
          }, `${address} to see ${expected.length} messages`);
          assert.deepEqual(subjects.sort(), expected.map((i) => `held ${i}`).sort());
        } finally {
          await client.logout();
        }
      }
      // The queue entries still wait for the upstream.
      assert.equal((await status()).waiting, held);

      // A reply goes out through Holdfast's submission while the upstream is down.
      await submission(t.port('submissions'), users[0]!, password).sendMail({
        from: users[0]!,
        to: 'sender@partner.example',
        subject: 'Re: held 0',
        inReplyTo: '<held-0@partner.example>',
        text: 'read it on Holdfast during the outage',
      });
      await t.waitFor(async () => outside.received.some((m) => m.data.includes('Subject: Re: held 0')), 'the reply');

      // Recovery: the upstream accepts again; the held mail goes there once each and the event closes.
      outage = false;
      const closed = await t.waitFor(
        async () => {
          const s = await status();
          return s.state === 'normal' && s.lastEvent?.state === 'closed' && s;
        },
        'the event to close',
        20_000,
      );
      assert.equal(closed.waiting, 0);
      assert.match(await metric('holdfast_continuity_state'), /holdfast_continuity_state\{upstream="exchange"\} 0/);
      assert.match(
        await metric('holdfast_continuity_messages'),
        new RegExp(`holdfast_continuity_messages\\{upstream="exchange",kind="held"\\} ${held}`),
      );
      assert.equal(closed.held, held);
      const ids = upstream.received.map((m) => /^Message-ID:\s*(\S+)/im.exec(m.data)?.[1]);
      assert.equal(ids.length, held, `upstream received ${ids.length} messages`);
      assert.equal(new Set(ids).size, held, 'no message reached the upstream twice');
      for (let i = 0; i < held; i++) assert.ok(ids.includes(`<held-${i}@partner.example>`), `held ${i} replayed`);

      // Service health told the story: an incident from the upstream's replies, resolved at the close.
      const issueId = closed.lastEvent!.issueId;
      assert.ok(issueId, 'the event has a service health issue');
      const issue = await t.node.holdfast.health.log.require(issueId);
      assert.equal(issue.isResolved, true);
      assert.equal(issue.origin, 'thirdParty');
      assert.match(issue.posts[0]!.content, /421 4\.3\.2/);
      assert.deepEqual(
        issue.posts.map((p) => p.status),
        ['serviceDegradation', 'restoringService', 'serviceRestored'],
      );

      // After the event, new mail goes upstream only.
      await mx.sendMail({
        envelope: { from: 'sender@partner.example', to: users[1]! },
        from: 'sender@partner.example',
        to: users[1]!,
        subject: 'after the event',
        messageId: '<after@partner.example>',
        text: 'normal operation again',
      });
      await t.waitFor(
        async () => upstream.received.some((m) => m.data.includes('<after@partner.example>')),
        'new mail upstream',
      );
      assert.ok(!(await t.mailbox(users[1]!)).some((m) => m.text.includes('after the event')));
    });
  });
}
