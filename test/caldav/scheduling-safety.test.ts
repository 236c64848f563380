// Scheduling that cannot be turned against anyone: invitations draw on the organizer's sending limits
// (the same as SMTP submission) and a meeting's attendees are capped; iTIP mail changes a meeting only
// when it comes, proved by SPF or DKIM, from its organizer (or the answering attendee), never by UID.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';
const day = 86_400_000;
const utc = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function calendar(options: {
  method?: string;
  uid: string;
  start: number;
  summary: string;
  organizer: string;
  attendees: string[];
  status?: string;
}): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    ...(options.method ? [`METHOD:${options.method}`] : []),
    'BEGIN:VEVENT',
    `UID:${options.uid}`,
    'DTSTAMP:20261101T000000Z',
    `DTSTART:${utc(options.start)}`,
    `DTEND:${utc(options.start + 3_600_000)}`,
    `SUMMARY:${options.summary}`,
    ...(options.status ? [`STATUS:${options.status}`] : []),
    `ORGANIZER:mailto:${options.organizer}`,
    ...options.attendees.map((a) => `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${a}`),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const outside = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `guest${from + i}@remote.example`);

for (const name of backendNames) {
  describe(`Scheduling safety on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let mx: FakeMx;
    let base: string;
    const nextWeek = Math.ceil((Date.now() + 7 * day) / 3_600_000) * 3_600_000;
    const auth = (user: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const put = (user: string, file: string, data: string) =>
      fetch(`${base}/dav/calendars/${user}/calendar/${file}`, {
        method: 'PUT',
        body: data,
        headers: { Authorization: auth(user), 'Content-Type': 'text/calendar' },
      });
    const copyOf = async (user: string, uid: string) =>
      (
        await t.node.holdfast.store.db
          .selectFrom('calendar_objects')
          .innerJoin('calendars', 'calendars.id', 'calendar_objects.calendar_id')
          .innerJoin('principals', 'principals.id', 'calendars.principal_id')
          .select('calendar_objects.data')
          .where('principals.address', '=', user)
          .where('calendar_objects.uid', '=', uid)
          .executeTakeFirst()
      )?.data;
    const queuedBy = async (user: string) =>
      (
        await t.node.holdfast.store.db
          .selectFrom('queue_messages')
          .innerJoin('principals', 'principals.id', 'queue_messages.auth_principal_id')
          .select('queue_messages.id')
          .where('principals.address', '=', user)
          .execute()
      ).length;
    /** iMIP mail from outside over port 25, from the client's own address. */
    const imip = async (from: string, to: string, method: string, content: string, subject: string) =>
      nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
        .sendMail({ from, to, subject, text: 'Calendar update.', icalEvent: { method, content } });
    const inInbox = (user: string, subject: string) =>
      t.waitFor(
        async () => (await t.mailbox(user)).find((m) => m.text.includes(`Subject: ${subject}`)),
        `"${subject}" in ${user}'s inbox`,
      );

    before(async () => {
      mx = await new FakeMx().start();
      t = await startTestNode(name, {
        toml: `[queue]\npoll_interval = "100ms"\nremote_port = ${mx.port}\n[limits]\nmessages_per_minute = 3\nrecipients_per_day = 60\n[caldav]\nmax_attendees = 50\n`,
      });
      base = `http://127.0.0.1:${t.port('http')}`;
      // remote.example sends from here (SPF passes); evil.example publishes nothing.
      t.dns.set('remote.example', {
        MX: [{ exchange: 'mx.remote.example', priority: 10 }],
        TXT: ['v=spf1 ip4:127.0.0.1 -all'],
      });
      t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password, displayName: 'Alice' });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password, displayName: 'Bob' });
      await tenant.addPrincipal({ kind: 'user', address: 'erin@test.example', password, displayName: 'Erin' });
    });
    after(async () => {
      await t.stop();
      await mx.stop();
    });

    it('refuses a meeting with more attendees than allowed, naming the limit', async () => {
      const response = await put(
        'alice@test.example',
        'crowd.ics',
        calendar({
          uid: 'crowd',
          start: nextWeek,
          summary: 'Crowd',
          organizer: 'alice@test.example',
          attendees: ['alice@test.example', ...outside(50)],
        }),
      );
      assert.equal(response.status, 403);
      const body = await response.text();
      assert.match(body, /<C:max-attendees-per-instance\/>/);
      assert.match(body, /the meeting has 51 attendees; at most 50 are allowed \(\[caldav\] max_attendees\)/);
      assert.equal(await copyOf('alice@test.example', 'crowd'), undefined, 'nothing stored');
      assert.equal(await queuedBy('alice@test.example'), 0, 'nothing sent');
    });

    it('sends one invitation for all outside attendees, counted against the sending limits like submitted mail', async () => {
      const many = outside(40);
      assert.equal(
        (
          await put(
            'alice@test.example',
            'launch.ics',
            calendar({
              uid: 'launch',
              start: nextWeek,
              summary: 'Launch',
              organizer: 'alice@test.example',
              attendees: ['alice@test.example', 'bob@test.example', ...many],
            }),
          )
        ).status,
        201,
      );
      const sent = await t.waitFor(
        async () => mx.received.find((m) => m.data.includes('Subject: Invitation: Launch')),
        'the invitation at the remote MX',
      );
      assert.deepEqual([...sent.to].sort(), [...many].sort(), 'one message to every outside attendee');
      assert.equal(await queuedBy('alice@test.example'), 1);

      // Two messages by SMTP reach the limit of 3 a minute; SMTP then refuses, and so does CalDAV.
      const smtp = submission(t.port('submissions'), 'alice@test.example', password);
      for (const i of [1, 2])
        await smtp.sendMail({
          from: 'alice@test.example',
          to: 'friend@remote.example',
          subject: `note ${i}`,
          text: 'x',
        });
      const refusal = await smtp
        .sendMail({ from: 'alice@test.example', to: 'friend@remote.example', subject: 'note 3', text: 'x' })
        .catch((e) => e);
      const text =
        'Message submission rate for alice@test.example has exceeded the configured limit (3 per minute); try again later';
      assert.equal(refusal.response, `450 4.7.1 ${text}`);
      const again = await put(
        'alice@test.example',
        'launch-2.ics',
        calendar({
          uid: 'launch-2',
          start: nextWeek + day,
          summary: 'Launch 2',
          organizer: 'alice@test.example',
          attendees: ['alice@test.example', ...outside(10)],
        }),
      );
      assert.equal(again.status, 429);
      const body = await again.text();
      assert.match(body, /sending-limit/);
      assert.ok(
        body.includes(
          `${text}. This change would send calendar mail to 10 recipients; it was not saved and nothing was sent`,
        ),
        body,
      );
      assert.equal(await copyOf('alice@test.example', 'launch-2'), undefined);
      assert.equal(await queuedBy('alice@test.example'), 3, 'no invitation was queued');
      // A meeting with only colleagues sends no mail, so the limit does not stand in its way.
      assert.equal(
        (
          await put(
            'alice@test.example',
            'standup.ics',
            calendar({
              uid: 'standup',
              start: nextWeek + 2 * day,
              summary: 'Standup',
              organizer: 'alice@test.example',
              attendees: ['alice@test.example', 'bob@test.example'],
            }),
          )
        ).status,
        201,
      );

      // A minute later the message rate allows it, but 40 + 2 recipients today and 20 more pass the 60 a day.
      t.clock.advance(61_000);
      const tooMany = await put(
        'alice@test.example',
        'launch-3.ics',
        calendar({
          uid: 'launch-3',
          start: nextWeek + 3 * day,
          summary: 'Launch 3',
          organizer: 'alice@test.example',
          attendees: ['alice@test.example', ...outside(20, 100)],
        }),
      );
      assert.equal(tooMany.status, 429);
      assert.match(
        await tooMany.text(),
        /Daily recipient limit reached for alice@test\.example \(60 recipients per 24 hours\); try again later\. This change would send calendar mail to 20 recipients/,
      );
      assert.equal(
        (
          await put(
            'alice@test.example',
            'launch-3.ics',
            calendar({
              uid: 'launch-3',
              start: nextWeek + 3 * day,
              summary: 'Launch 3',
              organizer: 'alice@test.example',
              attendees: ['alice@test.example', ...outside(10, 100)],
            }),
          )
        ).status,
        201,
      );
    });

    it('changes a meeting by iTIP mail only for its proved organizer, never by UID alone', async () => {
      const start = nextWeek + 4 * day;
      const internal = calendar({
        uid: 'board',
        start,
        summary: 'Board meeting',
        organizer: 'alice@test.example',
        attendees: ['alice@test.example', 'bob@test.example'],
      });
      assert.equal((await put('alice@test.example', 'board.ics', internal)).status, 201);
      assert.match((await copyOf('bob@test.example', 'board'))!, /SUMMARY:Board meeting/);

      // An outside organizer (SPF passes for remote.example) reusing the internal meeting's UID.
      await imip(
        'mallory@remote.example',
        'bob@test.example',
        'REQUEST',
        calendar({
          method: 'REQUEST',
          uid: 'board',
          start: start + day,
          summary: 'Moved: see link',
          organizer: 'mallory@remote.example',
          attendees: ['bob@test.example'],
        }),
        'forged request',
      );
      await imip(
        'mallory@remote.example',
        'bob@test.example',
        'CANCEL',
        calendar({
          method: 'CANCEL',
          uid: 'board',
          start,
          summary: 'Board meeting',
          organizer: 'mallory@remote.example',
          attendees: ['bob@test.example'],
          status: 'CANCELLED',
        }),
        'forged cancel',
      );
      // Someone whose domain proves nothing, as the organizer of a new meeting.
      await imip(
        'eve@evil.example',
        'bob@test.example',
        'REQUEST',
        calendar({
          method: 'REQUEST',
          uid: 'evil-1',
          start,
          summary: 'Unproved',
          organizer: 'eve@evil.example',
          attendees: ['bob@test.example'],
        }),
        'unproved request',
      );
      for (const subject of ['forged request', 'forged cancel', 'unproved request'])
        await inInbox('bob@test.example', subject);
      // Delivery applies iMIP right after the INBOX copy: a proved invitation sent last shows the others were handled.
      await imip(
        'carol@remote.example',
        'bob@test.example',
        'REQUEST',
        calendar({
          method: 'REQUEST',
          uid: 'partner-1',
          start,
          summary: 'Partner call',
          organizer: 'carol@remote.example',
          attendees: ['bob@test.example'],
        }),
        'proved request',
      );
      await t.waitFor(() => copyOf('bob@test.example', 'partner-1'), 'the proved invitation on the calendar');

      const copy = (await copyOf('bob@test.example', 'board'))!;
      assert.match(copy, /SUMMARY:Board meeting/, "the summary is the organizer's");
      assert.match(copy, new RegExp(`DTSTART:${utc(start)}`), "the time is the organizer's");
      assert.doesNotMatch(copy, /STATUS:CANCELLED/);
      assert.equal(await copyOf('bob@test.example', 'evil-1'), undefined, 'an unproved invitation stays mail');

      // An answer counts only from the attendee it speaks for, proved: erin is not at remote.example.
      assert.equal(
        (
          await put(
            'alice@test.example',
            'review.ics',
            calendar({
              uid: 'review',
              start: start + 2 * day,
              summary: 'Review',
              organizer: 'alice@test.example',
              attendees: ['alice@test.example', 'dave@evil.example', 'carol@remote.example'],
            }),
          )
        ).status,
        201,
      );
      const reply = (attendee: string) =>
        calendar({
          method: 'REPLY',
          uid: 'review',
          start: start + 2 * day,
          summary: 'Review',
          organizer: 'alice@test.example',
          attendees: [attendee],
        }).replace('PARTSTAT=NEEDS-ACTION', 'PARTSTAT=ACCEPTED');
      await imip('dave@evil.example', 'alice@test.example', 'REPLY', reply('dave@evil.example'), 'unproved answer');
      await inInbox('alice@test.example', 'unproved answer');
      await imip('carol@remote.example', 'alice@test.example', 'REPLY', reply('carol@remote.example'), 'proved answer');
      await t.waitFor(
        async () =>
          /PARTSTAT=ACCEPTED[^\r\n]*:mailto:carol@remote\.example/.test(
            (await copyOf('alice@test.example', 'review'))!.replace(/\r\n /g, ''),
          ),
        "carol's answer",
      );
      assert.doesNotMatch(
        (await copyOf('alice@test.example', 'review'))!.replace(/\r\n /g, ''),
        /PARTSTAT=ACCEPTED[^\r\n]*:mailto:dave@evil\.example/,
      );
    });

    it("declines an outside organizer's booking of a room by mail and keeps the room free for its organisation", async () => {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'room', address: 'boardroom@test.example', displayName: 'Board room' });
      const start = nextWeek + 9 * day;
      await imip(
        'mallory@remote.example',
        'boardroom@test.example',
        'REQUEST',
        calendar({
          method: 'REQUEST',
          uid: 'outside-hold',
          start,
          summary: 'All day, every day',
          organizer: 'mallory@remote.example',
          attendees: ['boardroom@test.example'],
        }),
        'room request from outside',
      );
      const declined = await t.waitFor(
        async () =>
          mx.received.find((m) => m.to.includes('mallory@remote.example') && m.data.includes('All day, every day')),
        "the room's answer to the outside organizer",
      );
      assert.match(declined.data, /Subject: Declined: All day, every day/);
      assert.match(declined.data, /PARTSTAT=DECLINED/);
      assert.match(declined.data, /takes bookings only from its own organisation/);
      assert.equal(await copyOf('boardroom@test.example', 'outside-hold'), undefined, 'nothing held in the room');
      // The room is free at that time for its own people.
      const own = calendar({
        uid: 'inside-booking',
        start,
        summary: 'Planning',
        organizer: 'alice@test.example',
        attendees: ['alice@test.example', 'boardroom@test.example'],
      });
      assert.equal((await put('alice@test.example', 'inside-booking.ics', own)).status, 201);
      assert.match((await copyOf('boardroom@test.example', 'inside-booking')) ?? '', /PARTSTAT=ACCEPTED/);
    });

    it("refuses iMIP mail that forges the organizer's own domain at the door", async () => {
      const { talk } = await SmtpTalk.open(t.port('smtp'));
      await talk.send('EHLO outside.example');
      await talk.send('MAIL FROM:<alice@test.example>');
      await talk.send('RCPT TO:<bob@test.example>');
      const cancel = calendar({
        method: 'CANCEL',
        uid: 'board',
        start: nextWeek,
        summary: 'Board meeting',
        organizer: 'alice@test.example',
        attendees: ['bob@test.example'],
        status: 'CANCELLED',
      });
      const reply = await talk.data(
        `From: alice@test.example\r\nTo: bob@test.example\r\nSubject: Canceled\r\nContent-Type: text/calendar; method=CANCEL\r\n\r\n${cancel}`,
      );
      assert.match(reply, /^550 5\.7\.1 Message rejected as spoofed: <alice@test\.example> is in test\.example/);
      talk.close();
    });
  });
}
