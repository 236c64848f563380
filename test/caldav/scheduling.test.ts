// Meetings end to end: an organizer's CalDAV client stores a meeting and the attendees' calendars
// follow (RFC 6638 implicit scheduling): internal users directly, rooms by their booking policy,
// outside attendees by iMIP mail through the queue, and iMIP mail from outside back into calendars.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { DAVClient } from 'tsdav';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const day = 86_400_000;

const utc = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function meeting(options: {
  uid: string;
  start: number;
  hours?: number;
  summary: string;
  organizer: string;
  attendees: [string, string][];
  sequence?: number;
}): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    'BEGIN:VEVENT',
    `UID:${options.uid}`,
    'DTSTAMP:20261101T000000Z',
    `SEQUENCE:${options.sequence ?? 0}`,
    `DTSTART:${utc(options.start)}`,
    `DTEND:${utc(options.start + (options.hours ?? 1) * 3_600_000)}`,
    `SUMMARY:${options.summary}`,
    `ORGANIZER:mailto:${options.organizer}`,
    ...options.attendees.map(([address, partStat]) => `ATTENDEE;PARTSTAT=${partStat};RSVP=TRUE:mailto:${address}`),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

for (const name of backendNames) {
  describe(`Meetings over CalDAV and iMIP on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let mx: FakeMx;
    let base: string;
    // Whole hours a week from now, so that rooms' booking windows accept them.
    const nextWeek = Math.ceil((Date.now() + 7 * day) / 3_600_000) * 3_600_000;

    const client = async (user: string) => {
      const dav = new DAVClient({
        serverUrl: base,
        credentials: { username: user, password },
        authMethod: 'Basic',
        defaultAccountType: 'caldav',
      });
      await dav.login();
      return dav;
    };
    const calendarUrl = (user: string) => `${base}/dav/calendars/${user}/calendar/`;
    const put = (user: string, file: string, data: string, headers: Record<string, string> = {}) =>
      fetch(`${calendarUrl(user)}${file}`, {
        method: 'PUT',
        body: data,
        headers: { Authorization: auth(user), 'Content-Type': 'text/calendar', ...headers },
      });
    const auth = (user: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    /** The copy of a meeting (by UID) in a principal's calendar, or undefined. */
    const copyOf = async (user: string, uid: string) => {
      const row = await t.node.holdfast.store.db
        .selectFrom('calendar_objects')
        .innerJoin('calendars', 'calendars.id', 'calendar_objects.calendar_id')
        .innerJoin('principals', 'principals.id', 'calendars.principal_id')
        .select(['calendar_objects.data', 'calendar_objects.uri'])
        .where('principals.address', '=', user)
        .where('calendar_objects.uid', '=', uid)
        .executeTakeFirst();
      return row?.data;
    };
    const partStat = (data: string | undefined, attendee: string) =>
      new RegExp(`ATTENDEE[^\\r\\n]*PARTSTAT=([A-Z-]+)[^\\r\\n]*:mailto:${attendee}`, 'i').exec(
        data?.replace(/\r\n /g, '') ?? '',
      )?.[1];

    before(async () => {
      mx = await new FakeMx().start();
      t = await startTestNode(name, { toml: `[queue]\npoll_interval = "100ms"\nremote_port = ${mx.port}\n` });
      base = `http://127.0.0.1:${t.port('http')}`;
      // remote.example's mail comes from here (SPF): its iMIP answers are proved to come from their authors.
      t.dns.set('remote.example', {
        MX: [{ exchange: 'mx.remote.example', priority: 10 }],
        TXT: ['v=spf1 ip4:127.0.0.1 -all'],
      });
      t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password, displayName: 'Alice' });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password, displayName: 'Bob' });
      await tenant.addPrincipal({ kind: 'room', address: 'boardroom@test.example', displayName: 'Board room' });
    });
    after(async () => {
      await t.stop();
      await mx.stop();
    });

    it('invites, answers, reschedules and cancels between two users', async () => {
      const alice = await client('alice@test.example');
      const [aliceCalendar] = await alice.fetchCalendars();
      const invitation = meeting({
        uid: 'plan-1',
        start: nextWeek,
        summary: 'Planning',
        organizer: 'alice@test.example',
        attendees: [
          ['alice@test.example', 'ACCEPTED'],
          ['bob@test.example', 'NEEDS-ACTION'],
        ],
      });
      assert.equal(
        (await alice.createCalendarObject({ calendar: aliceCalendar!, filename: 'plan-1.ics', iCalString: invitation }))
          .status,
        201,
      );

      // Bob's client finds the meeting in his calendar and accepts it there.
      const bob = await client('bob@test.example');
      const [bobCalendar] = await bob.fetchCalendars();
      const [copy] = (await bob.fetchCalendarObjects({ calendar: bobCalendar! })).filter((o) =>
        o.data.includes('UID:plan-1'),
      );
      assert.ok(copy, "the invitation is on bob's calendar");
      assert.equal(partStat(copy.data, 'bob@test.example'), 'NEEDS-ACTION');
      // The organizer's copy records how each attendee was reached (RFC 6638 SCHEDULE-STATUS).
      assert.match(
        (await copyOf('alice@test.example', 'plan-1'))!.replace(/\r\n /g, ''),
        /SCHEDULE-STATUS=1\.2[^\r\n]*:mailto:bob@test\.example/,
      );
      const answered = await bob.updateCalendarObject({
        calendarObject: {
          ...copy,
          data: copy.data.replace(
            'PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob',
            'PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob',
          ),
        },
      });
      assert.equal(answered.status, 204);
      assert.equal(partStat(await copyOf('alice@test.example', 'plan-1'), 'bob@test.example'), 'ACCEPTED');

      // Moving the meeting makes bob's answer stale: his copy moves and asks again.
      const moved = meeting({
        uid: 'plan-1',
        start: nextWeek + 2 * 3_600_000,
        summary: 'Planning',
        organizer: 'alice@test.example',
        attendees: [
          ['alice@test.example', 'ACCEPTED'],
          ['bob@test.example', 'ACCEPTED'],
        ],
        sequence: 1,
      });
      assert.equal((await put('alice@test.example', 'plan-1.ics', moved)).status, 204);
      const bobCopy = await copyOf('bob@test.example', 'plan-1');
      assert.match(bobCopy!, new RegExp(`DTSTART:${utc(nextWeek + 2 * 3_600_000)}`));
      assert.equal(partStat(bobCopy, 'bob@test.example'), 'NEEDS-ACTION');

      // Cancelling: alice deletes it; bob keeps it marked cancelled until he removes it.
      const [stored] = (await alice.fetchCalendarObjects({ calendar: aliceCalendar! })).filter((o) =>
        o.data.includes('UID:plan-1'),
      );
      assert.equal((await alice.deleteCalendarObject({ calendarObject: stored! })).status, 204);
      assert.match((await copyOf('bob@test.example', 'plan-1'))!, /STATUS:CANCELLED/);

      // Each step reached the other side's INBOX too, as Exchange users expect, saying when and who.
      const inboxOf = (user: string, subject: RegExp, what: string) =>
        t.waitFor(async () => (await t.mailbox(user)).find((m) => subject.test(m.text)), what);
      const invitationMail = await inboxOf(
        'bob@test.example',
        /^Subject: Invitation: Planning/m,
        "the invitation in bob's inbox",
      );
      assert.match(invitationMail.text, /text\/calendar; charset=utf-8; method=REQUEST/i);
      const readable = (await simpleParser(invitationMail.text)).text ?? '';
      assert.match(readable, /When: .*2026|When: .*2027/);
      assert.match(readable, /\(UTC\)/);
      assert.match(readable, /Organizer: Alice <alice@test\.example>/);
      await inboxOf('alice@test.example', /^Subject: Accepted: Planning/m, "bob's answer in alice's inbox");
      await inboxOf('bob@test.example', /^Subject: Canceled: Planning/m, "the cancellation in bob's inbox");
      // The mail left the calendars as the direct scheduling made them: bob's copy is still cancelled.
      assert.match((await copyOf('bob@test.example', 'plan-1'))!, /STATUS:CANCELLED/);
    });

    it('books a free room and declines a conflicting booking, saying why', async () => {
      const first = meeting({
        uid: 'room-1',
        start: nextWeek + day,
        summary: 'Board meeting',
        organizer: 'alice@test.example',
        attendees: [
          ['alice@test.example', 'ACCEPTED'],
          ['boardroom@test.example', 'NEEDS-ACTION'],
        ],
      });
      const booked = await put('alice@test.example', 'room-1.ics', first);
      assert.equal(booked.status, 201);
      assert.equal(booked.headers.get('etag'), null, 'the stored copy changed (the room answered), so no ETag');
      assert.equal(partStat(await copyOf('alice@test.example', 'room-1'), 'boardroom@test.example'), 'ACCEPTED');
      assert.ok(await copyOf('boardroom@test.example', 'room-1'), 'the room holds the booking');

      const clash = meeting({
        uid: 'room-2',
        start: nextWeek + day + 1_800_000,
        summary: 'Overlapping',
        organizer: 'bob@test.example',
        attendees: [
          ['bob@test.example', 'ACCEPTED'],
          ['boardroom@test.example', 'NEEDS-ACTION'],
        ],
      });
      assert.equal((await put('bob@test.example', 'room-2.ics', clash)).status, 201);
      assert.equal(partStat(await copyOf('bob@test.example', 'room-2'), 'boardroom@test.example'), 'DECLINED');
      assert.equal(await copyOf('boardroom@test.example', 'room-2'), undefined);
      // The decline arrives as mail too, with the reason.
      const inbox = await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => /Subject: Declined: Overlapping/.test(m.text)),
        "the decline in bob's inbox",
      );
      assert.match(inbox.text, /Board room is already booked from/);
      assert.match(inbox.text, /text\/calendar; charset=utf-8; method=REPLY/i);

      const typo = meeting({
        uid: 'typo-1',
        start: nextWeek + 5 * day,
        summary: 'Typo',
        organizer: 'bob@test.example',
        attendees: [['bobb@test.example', 'NEEDS-ACTION']],
      });
      await put('bob@test.example', 'typo-1.ics', typo);
      assert.match(
        (await copyOf('bob@test.example', 'typo-1'))!.replace(/\r\n /g, ''),
        /SCHEDULE-STATUS=3\.7[^\r\n]*:mailto:bobb@test\.example/,
      );

      const farAway = meeting({
        uid: 'room-3',
        start: nextWeek + 200 * day,
        summary: 'Far away',
        organizer: 'bob@test.example',
        attendees: [['boardroom@test.example', 'NEEDS-ACTION']],
      });
      await put('bob@test.example', 'room-3.ics', farAway);
      assert.equal(partStat(await copyOf('bob@test.example', 'room-3'), 'boardroom@test.example'), 'DECLINED');
      const tooLong = meeting({
        uid: 'room-4',
        start: nextWeek + 3 * day,
        hours: 30,
        summary: 'Offsite',
        organizer: 'bob@test.example',
        attendees: [['boardroom@test.example', 'NEEDS-ACTION']],
      });
      await put('bob@test.example', 'room-4.ics', tooLong);
      assert.equal(partStat(await copyOf('bob@test.example', 'room-4'), 'boardroom@test.example'), 'DECLINED');

      // When the first meeting is cancelled the room is free again.
      await fetch(`${calendarUrl('alice@test.example')}room-1.ics`, {
        method: 'DELETE',
        headers: { Authorization: auth('alice@test.example') },
      });
      assert.equal(await copyOf('boardroom@test.example', 'room-1'), undefined);
      await put('bob@test.example', 'room-2.ics', clash.replace('SEQUENCE:0', 'SEQUENCE:1'));
      assert.equal(partStat(await copyOf('bob@test.example', 'room-2'), 'boardroom@test.example'), 'ACCEPTED');
    });

    it('sends outside attendees an iMIP invitation through the queue, and applies their iMIP answer', async () => {
      const invitation = meeting({
        uid: 'partner-1',
        start: nextWeek + 2 * day,
        summary: 'Partner call',
        organizer: 'alice@test.example',
        attendees: [
          ['alice@test.example', 'ACCEPTED'],
          ['carol@remote.example', 'NEEDS-ACTION'],
        ],
      });
      assert.equal((await put('alice@test.example', 'partner-1.ics', invitation)).status, 201);
      assert.match(
        (await copyOf('alice@test.example', 'partner-1'))!.replace(/\r\n /g, ''),
        /SCHEDULE-STATUS=1\.1[^\r\n]*:mailto:carol@remote\.example/,
      );
      const sent = await t.waitFor(
        async () => mx.received.find((m) => m.to.includes('carol@remote.example')),
        'the invitation at the remote MX',
      );
      assert.equal(sent.from, 'alice@test.example');
      assert.match(sent.data, /^Subject: Invitation: Partner call/m);
      assert.match(sent.data, /^DKIM-Signature:[\s\S]*?d=test\.example;/m, "signed for the organizer's domain");
      assert.match(sent.data, /Content-Type: text\/calendar; charset=utf-8; method=REQUEST/i);
      const ics =
        /BEGIN:VCALENDAR[\s\S]*END:VCALENDAR/.exec(
          Buffer.from(
            /method=REQUEST[\s\S]*?\r\n\r\n([\s\S]*?)\r\n--/i.exec(sent.data)?.[1] ?? '',
            /base64/i.test(sent.data) ? 'base64' : 'utf8',
          ).toString(),
        )?.[0] ?? sent.data;
      assert.match(ics, /METHOD:REQUEST/);
      assert.match(ics, /UID:partner-1/);

      // Carol accepts from her own mail client: an iMIP REPLY arrives over SMTP.
      const reply = [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Partner//EN',
        'METHOD:REPLY',
        'BEGIN:VEVENT',
        'UID:partner-1',
        'DTSTAMP:20261120T000000Z',
        `DTSTART:${utc(nextWeek + 2 * day)}`,
        'ORGANIZER:mailto:alice@test.example',
        'ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@remote.example',
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
      await nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
        .sendMail({
          from: 'carol@remote.example',
          to: 'alice@test.example',
          subject: 'Accepted: Partner call',
          text: 'See you then.',
          icalEvent: { method: 'REPLY', content: reply },
        });
      await t.waitFor(
        async () => partStat(await copyOf('alice@test.example', 'partner-1'), 'carol@remote.example') === 'ACCEPTED',
        "carol's answer on alice's copy",
      );
    });

    it('places invitations from outside on the calendar, tentatively', async () => {
      const request = [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Partner//EN',
        'METHOD:REQUEST',
        'BEGIN:VEVENT',
        'UID:outside-1',
        'DTSTAMP:20261120T000000Z',
        `DTSTART:${utc(nextWeek + 4 * day)}`,
        `DTEND:${utc(nextWeek + 4 * day + 3_600_000)}`,
        'SUMMARY:Vendor demo',
        'ORGANIZER:mailto:carol@remote.example',
        'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@test.example',
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
      await nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
        .sendMail({
          from: 'carol@remote.example',
          to: 'bob@test.example',
          subject: 'Invitation: Vendor demo',
          text: 'Join us.',
          icalEvent: { method: 'REQUEST', content: request },
        });
      const copy = await t.waitFor(() => copyOf('bob@test.example', 'outside-1'), "the invitation on bob's calendar");
      assert.equal(partStat(copy, 'bob@test.example'), 'NEEDS-ACTION');
      assert.doesNotMatch(copy, /METHOD:/);

      // Free/busy shows it as tentative until bob answers.
      const freeBusy = await fetch(calendarUrl('bob@test.example'), {
        method: 'REPORT',
        headers: { Authorization: auth('bob@test.example'), Depth: '1', 'Content-Type': 'application/xml' },
        body: `<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="${utc(nextWeek + 4 * day - day)}" end="${utc(nextWeek + 5 * day)}"/></c:free-busy-query>`,
      });
      assert.match(await freeBusy.text(), /FBTYPE=BUSY-TENTATIVE/);
    });

    it('answers free/busy lookups through the scheduling outbox with busy times only', async () => {
      const principal = await fetch(`${base}/dav/principals/alice@test.example/`, {
        method: 'PROPFIND',
        headers: { Authorization: auth('alice@test.example'), Depth: '0' },
        body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:schedule-outbox-URL/></d:prop></d:propfind>',
      });
      const outbox = /<C:schedule-outbox-URL><D:href>([^<]+)<\/D:href>/.exec(await principal.text())?.[1];
      assert.equal(outbox, '/dav/calendars/alice@test.example/outbox/');
      const request = [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Holdfast tests//EN',
        'METHOD:REQUEST',
        'BEGIN:VFREEBUSY',
        'UID:fb-1',
        'DTSTAMP:20261120T000000Z',
        `DTSTART:${utc(nextWeek + 3 * day)}`,
        `DTEND:${utc(nextWeek + 5 * day)}`,
        'ORGANIZER:mailto:alice@test.example',
        'ATTENDEE:mailto:bob@test.example',
        'ATTENDEE:mailto:carol@remote.example',
        'END:VFREEBUSY',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
      const response = await fetch(`${base}${outbox}`, {
        method: 'POST',
        body: request,
        headers: { Authorization: auth('alice@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.equal(response.status, 200);
      const text = (await response.text()).replace(/&#13;/g, '');
      assert.match(
        text,
        /<C:recipient><D:href>mailto:bob@test\.example<\/D:href><\/C:recipient><C:request-status>2\.0;Success/,
      );
      assert.match(
        text,
        new RegExp(`FREEBUSY;FBTYPE=BUSY-TENTATIVE:${utc(nextWeek + 4 * day)}/${utc(nextWeek + 4 * day + 3_600_000)}`),
      );
      assert.doesNotMatch(text, /Vendor demo/);
      assert.match(
        text,
        /mailto:carol@remote\.example<\/D:href><\/C:recipient><C:request-status>3\.7;Invalid calendar user/,
      );

      const asSomeoneElse = await fetch(`${base}${outbox}`, {
        method: 'POST',
        body: request.replace('ORGANIZER:mailto:alice', 'ORGANIZER:mailto:bob'),
        headers: { Authorization: auth('alice@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.equal(asSomeoneElse.status, 403);
      assert.match(await asSomeoneElse.text(), /organizer-allowed/);
    });

    it('carries proposals of a new time to the organizer and their refusal back', async () => {
      const planned = meeting({
        uid: 'plan-2',
        start: nextWeek + 6 * day,
        summary: 'Budget',
        organizer: 'alice@test.example',
        attendees: [
          ['alice@test.example', 'ACCEPTED'],
          ['bob@test.example', 'NEEDS-ACTION'],
        ],
      });
      assert.equal((await put('alice@test.example', 'plan-2.ics', planned)).status, 201);
      const counter = planned
        .replace('BEGIN:VEVENT', 'METHOD:COUNTER\r\nBEGIN:VEVENT')
        .replace(`DTSTART:${utc(nextWeek + 6 * day)}`, `DTSTART:${utc(nextWeek + 6 * day + 3_600_000)}`)
        .replace(`DTEND:${utc(nextWeek + 6 * day + 3_600_000)}`, `DTEND:${utc(nextWeek + 6 * day + 7_200_000)}`);
      const outbox = (user: string) => `${base}/dav/calendars/${user}/outbox/`;
      const proposed = await fetch(outbox('bob@test.example'), {
        method: 'POST',
        body: counter,
        headers: { Authorization: auth('bob@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.equal(proposed.status, 200);
      assert.match(
        await proposed.text(),
        /mailto:alice@test\.example<\/D:href><\/C:recipient><C:request-status>2\.0;Success/,
      );

      const inbox = async (user: string) => {
        const listing = await fetch(`${base}/dav/calendars/${user}/inbox/`, {
          method: 'PROPFIND',
          headers: { Authorization: auth(user), Depth: '1' },
          body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop></d:propfind>',
        });
        const text = (await listing.text()).replace(/&#13;/g, '');
        return [...text.matchAll(/<D:href>([^<]+\.ics)<\/D:href>[\s\S]*?<C:calendar-data>([^<]*)</g)].map((m) => ({
          href: m[1]!,
          data: m[2]!,
        }));
      };
      const [proposal] = await inbox('alice@test.example');
      assert.ok(proposal, "the proposal is in alice's scheduling inbox");
      assert.match(proposal.data, /METHOD:COUNTER/);
      assert.match(proposal.data, new RegExp(`DTSTART:${utc(nextWeek + 6 * day + 3_600_000)}`));
      assert.equal(
        (await fetch(`${base}${proposal.href}`, { headers: { Authorization: auth('alice@test.example') } })).status,
        200,
      );

      // Only an attendee proposes; only the organizer refuses.
      const notAttendee = await fetch(outbox('alice@test.example'), {
        method: 'POST',
        body: counter.replace(/ATTENDEE;[^\r]*mailto:alice@test\.example\r\n/, ''),
        headers: { Authorization: auth('alice@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.equal(notAttendee.status, 403);

      const decline = planned.replace('BEGIN:VEVENT', 'METHOD:DECLINECOUNTER\r\nBEGIN:VEVENT');
      const declined = await fetch(outbox('alice@test.example'), {
        method: 'POST',
        body: decline,
        headers: { Authorization: auth('alice@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.match(
        await declined.text(),
        /mailto:bob@test\.example<\/D:href><\/C:recipient><C:request-status>2\.0;Success/,
      );
      assert.match((await inbox('bob@test.example'))[0]?.data ?? '', /METHOD:DECLINECOUNTER/);

      assert.equal(
        (
          await fetch(`${base}${proposal.href}`, {
            method: 'DELETE',
            headers: { Authorization: auth('alice@test.example') },
          })
        ).status,
        204,
      );
      assert.deepEqual(await inbox('alice@test.example'), []);

      // A proposal mailed from outside (carol attends partner-1) lands in the same inbox.
      const outside = [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Partner//EN',
        'METHOD:COUNTER',
        'BEGIN:VEVENT',
        'UID:partner-1',
        'DTSTAMP:20261120T000000Z',
        `DTSTART:${utc(nextWeek + 2 * day + 3_600_000)}`,
        `DTEND:${utc(nextWeek + 2 * day + 7_200_000)}`,
        'SUMMARY:Partner call',
        'ORGANIZER:mailto:alice@test.example',
        'ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@remote.example',
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
      await nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
        .sendMail({
          from: 'carol@remote.example',
          to: 'alice@test.example',
          subject: 'New time proposed: Partner call',
          text: 'Could we start an hour later?',
          icalEvent: { method: 'COUNTER', content: outside },
        });
      await t.waitFor(
        async () => (await inbox('alice@test.example')).some((i) => i.data.includes('UID:partner-1')),
        "carol's proposal in alice's inbox",
      );
    });
  });
}
