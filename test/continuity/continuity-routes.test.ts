// Mail Holdfast writes itself to a continuity user — an iMIP invitation, a DSN for mail the user
// sent, a group of another domain with the user as a member — goes to the upstream like any other mail
// for the continuity domain (relayed in normal operation, copied into the mailbox during an event),
// not straight into the Holdfast mailbox the user does not read while the upstream works.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createImipSender } from '../../src/flow/imip-sender.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { startContinuityNode } from './continuity-node.ts';

const password = 'Continuity-Routes-31';
const alice = 'alice@contoso.example';
const organizer = 'organizer@fabrikam.example';

for (const backend of backendNames) {
  describe(`continuity routes for mail Holdfast writes (${backend})`, { skip: skipFor(backend) }, () => {
    let t: TestNode;
    let upstream: FakeMx;
    let outside: FakeMx;

    before(async () => {
      upstream = await new FakeMx().start();
      outside = await new FakeMx().start();
      outside.script.rcpt = (address) =>
        address.startsWith('nobody@') ? { code: 550, message: '5.1.1 no such user' } : undefined;
      t = await startContinuityNode(backend, {
        upstreamPort: upstream.port,
        outsidePort: outside.port,
        settings: ['probe_interval = "1h"'],
        users: [alice],
        password,
      });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addDomain('fabrikam.example');
      await tenant.addPrincipal({ kind: 'user', address: organizer, password });
      await tenant.addPrincipal({ kind: 'group', address: 'team@fabrikam.example' });
      for (const member of [organizer, alice]) await tenant.addGroupMember('team@fabrikam.example', member);
    });

    after(async () => {
      await t?.stop();
      await upstream?.stop();
      await outside?.stop();
    });

    const upstreamGot = (pattern: RegExp, what: string) =>
      t.waitFor(async () => upstream.received.find((m) => pattern.test(m.data)), what);

    it('relays an iMIP invitation to a continuity user to the upstream', async () => {
      const { config, directory, store, flow, now } = t.node.holdfast;
      const send = createImipSender({ config, directory, blobs: store.blobs, flow, now });
      await send({
        from: organizer,
        fromName: 'Organizer',
        to: [alice],
        method: 'REQUEST',
        calendar: [
          'BEGIN:VCALENDAR',
          'VERSION:2.0',
          'PRODID:-//test//EN',
          'METHOD:REQUEST',
          'BEGIN:VEVENT',
          'UID:routes-1@fabrikam.example',
          'DTSTAMP:20260101T000000Z',
          'DTSTART:20260102T100000Z',
          'DTEND:20260102T110000Z',
          'SUMMARY:Planning',
          `ORGANIZER:mailto:${organizer}`,
          `ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${alice}`,
          'END:VEVENT',
          'END:VCALENDAR',
        ].join('\r\n'),
        subject: 'Invitation: Planning',
        text: 'You are invited.',
      });
      const mail = await upstreamGot(/Invitation: Planning/, 'the invitation upstream');
      assert.deepEqual(mail.to, [alice]);
      assert.match(mail.data, /text\/calendar/);
      assert.equal((await t.mailbox(alice)).length, 0, 'no copy in Holdfast outside an event');
    });

    it('sends a DSN for mail a continuity user sent to the upstream', async () => {
      await submission(t.port('submissions'), alice, password).sendMail({
        from: alice,
        to: 'nobody@partner.example',
        subject: 'bounces',
        text: 'this address does not exist',
      });
      const dsn = await upstreamGot(/Undelivered Mail Returned to Sender/, 'the DSN upstream');
      assert.equal(dsn.from, '');
      assert.deepEqual(dsn.to, [alice]);
      assert.equal((await t.mailbox(alice)).length, 0);
    });

    it('relays a group member’s copy in a continuity domain to the upstream, and delivers the others here', async () => {
      await nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
        .sendMail({
          envelope: { from: 'someone@partner.example', to: 'team@fabrikam.example' },
          from: 'someone@partner.example',
          to: 'team@fabrikam.example',
          subject: 'to the team',
          text: 'hello team',
        });
      const copy = await upstreamGot(/Subject: to the team/, 'alice’s copy upstream');
      assert.deepEqual(copy.to, [alice]);
      await t.waitFor(async () => (await t.mailbox(organizer)).length === 1, 'the organizer’s copy here');
      assert.equal((await t.mailbox(alice)).length, 0);
    });
  });
}
