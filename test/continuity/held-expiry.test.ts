// Mail held for the upstream during a continuity event does not bounce at `queue.expire`: it is in the
// user's mailbox and waits for the upstream. The rule (src/continuity/held-expiry.ts) alone, then end
// to end: with expire = 4s, mail to the outside that keeps being deferred expires, while the message
// held for the upstream outlives it, bounces to nobody, and goes upstream once when it recovers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { ContinuityEvent } from '../../src/continuity/continuity-events.ts';
import { expiryStart } from '../../src/continuity/held-expiry.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { startContinuityNode } from './continuity-node.ts';

const event = (state: ContinuityEvent['state'], at: Partial<ContinuityEvent> = {}): ContinuityEvent => ({
  id: 1,
  upstream: 'exchange',
  state,
  startedBy: 'automatic',
  reason: 'test',
  startedAt: 1_000,
  recoveringSince: null,
  endedAt: null,
  copyCursor: 0,
  issueId: null,
  postedState: null,
  ...at,
});

describe('the expiry clock of mail for a continuity upstream', () => {
  it('starts at arrival when the upstream has had no event', () => {
    assert.equal(expiryStart(undefined, 500), 500);
  });

  it('does not run while the event is active, whenever the mail arrived', () => {
    assert.equal(expiryStart(event('active'), 500), null);
    assert.equal(expiryStart(event('active'), 5_000), null);
  });

  it('starts when the recovery began for mail that arrived before it', () => {
    assert.equal(expiryStart(event('recovering', { recoveringSince: 9_000 }), 500), 9_000);
    assert.equal(expiryStart(event('recovering', { recoveringSince: 9_000 }), 9_500), 9_500);
    assert.equal(expiryStart(event('closed', { recoveringSince: 9_000, endedAt: 12_000 }), 500), 9_000);
  });

  it('starts at arrival for mail that came after the event closed', () => {
    assert.equal(expiryStart(event('closed', { recoveringSince: 9_000, endedAt: 12_000 }), 20_000), 20_000);
  });
});

const password = 'Continuity-Works-77';
const users = ['alice@contoso.example'];
const expireMs = 4_000;

for (const backend of backendNames) {
  describe(`held mail and queue.expire (${backend})`, { skip: skipFor(backend) }, () => {
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
      outside.script.rcpt = () => ({ code: 451, message: '4.7.1 try again later' });
      t = await startContinuityNode(backend, {
        upstreamPort: upstream.port,
        outsidePort: outside.port,
        settings: ['activate_after = "1s"', 'probe_interval = "300ms"', 'probe_timeout = "2s"'],
        queue: [`expire = "${expireMs / 1000}s"`],
        users,
        password,
      });
    });

    after(async () => {
      await t?.stop();
      await upstream?.stop();
      await outside?.stop();
    });

    const recipient = (address: string) =>
      t.node.holdfast.store.db
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.state', 'r.next_attempt_at', 'r.last_reply', 'm.received_at'])
        .where('r.recipient', '=', address)
        .where('m.sender', '!=', '')
        .executeTakeFirst();

    it('keeps the held message past expire during the event and replays it once after', async () => {
      const mx = nodemailer.createTransport({
        host: '127.0.0.1',
        port: t.port('smtp'),
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      await mx.sendMail({
        envelope: { from: 'sender@partner.example', to: users[0]! },
        from: 'sender@partner.example',
        to: users[0]!,
        subject: 'held past expire',
        messageId: '<held-past-expire@partner.example>',
        text: 'waiting for the upstream',
      });
      // The control: mail to the outside that is deferred on every attempt expires at queue.expire.
      await submission(t.port('submissions'), users[0]!, password).sendMail({
        from: users[0]!,
        to: 'bob@partner.example',
        subject: 'deferred outside',
        text: 'the outside defers this',
      });
      await t.waitFor(
        async () => (await t.mailbox(users[0]!)).some((m) => m.text.includes('held past expire')),
        'the held message copied into the mailbox during the event',
        10_000,
      );
      await t.waitFor(
        async () => (await recipient('bob@partner.example'))?.state === 'failed',
        'the mail to the outside expired',
        20_000,
      );
      // Deferred again after its expiry time (the next attempt set by a deferral made after it), not failed.
      const held = await t.waitFor(async () => {
        const r = await recipient(users[0]!);
        return r && (r.state === 'failed' || Number(r.next_attempt_at) >= Number(r.received_at) + expireMs + 500)
          ? r
          : undefined;
      }, 'a deferral of the held message after its expiry time');
      assert.notEqual(held.state, 'failed', `held mail did not expire (${held.last_reply})`);

      outage = false;
      await t.waitFor(
        async () => (await recipient(users[0]!))?.state === 'delivered',
        'the held message delivered upstream on recovery',
        30_000,
      );
      const copies = upstream.received.filter((m) => m.data.includes('<held-past-expire@partner.example>'));
      assert.equal(copies.length, 1, 'upstream got it once');
      const bounces = await t.node.holdfast.store.db
        .selectFrom('queue_recipients')
        .select('id')
        .where('recipient', '=', 'sender@partner.example')
        .execute();
      assert.equal(bounces.length, 0, 'no bounce to the original sender');
    });
  });
}
