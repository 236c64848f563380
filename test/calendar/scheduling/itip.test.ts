// iTIP messages and attendee status (RFC 5546, RFC 6638 SCHEDULE-STATUS) on iCalendar text: calendar
// user addresses, REQUEST / CANCEL / REPLY as the organizer and attendees send them, SEQUENCE on
// cancel, and the status bookkeeping of the organizer's copy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type ICAL from 'ical.js';
import { parseCalendar, parseCalendarObject } from '../../../src/calendar/calendar-object.ts';
import {
  attendeesOf,
  calendarAddress,
  cancelled,
  itipMessage,
  keepPartStat,
  methodOf,
  organizerOf,
  partStatOf,
  replyMessage,
  summaryOf,
  timesChanged,
  withDeliveryResults,
  withoutMethod,
  withPartStat,
} from '../../../src/calendar/scheduling/itip.ts';
import { calendar, component } from '../../helpers/icalendar-text.ts';

const zone = [
  'BEGIN:VTIMEZONE',
  'TZID:Custom/Zone',
  'BEGIN:STANDARD',
  'DTSTART:19700101T000000',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0100',
  'END:STANDARD',
  'END:VTIMEZONE',
];

const masterLines = [
  'DTSTART:20260105T100000Z',
  'DTEND:20260105T110000Z',
  'RRULE:FREQ=DAILY;COUNT=3',
  'SUMMARY:Planning',
  'SEQUENCE:2',
  'ORGANIZER;CN=Olga:mailto:Olga@Example.org',
  'ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org',
  'ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION;CN=Bob:MAILTO:bob@example.org',
  'ATTENDEE:mailto:carol@example.org',
  'DESCRIPTION:agenda',
  'LOCATION:Room 1',
  'BEGIN:VALARM',
  'ACTION:DISPLAY',
  'TRIGGER:-PT5M',
  'DESCRIPTION:soon',
  'END:VALARM',
];
const overrideLines = [
  'RECURRENCE-ID:20260106T100000Z',
  'DTSTART:20260106T120000Z',
  'DTEND:20260106T130000Z',
  'SUMMARY:Planning (moved)',
  'ORGANIZER:mailto:olga@example.org',
  'ATTENDEE:mailto:bob@example.org',
  'ATTENDEE:mailto:dave@example.org',
];
const meeting = calendar([zone, component(masterLines), component(overrideLines)]);

/** The non-timezone components of iCalendar text. */
const itemsOf = (text: string) =>
  parseCalendar(text)
    .getAllSubcomponents()
    .filter((c) => c.name !== 'vtimezone');
const attendeeLines = (item: ICAL.Component) => item.getAllProperties('attendee').map((p) => p.toICALString());

describe('Calendar user addresses', () => {
  it('reads mailto: addresses in any case, lower-cased and trimmed', () => {
    assert.equal(calendarAddress('mailto:alice@example.org'), 'alice@example.org');
    assert.equal(calendarAddress(' MAILTO: Alice@Example.ORG '), 'alice@example.org');
  });

  it('reads nothing from other URIs or no value', () => {
    for (const value of ['urn:uuid:6f1c', 'https://example.org/alice', 'alice@example.org', '', undefined, null])
      assert.equal(calendarAddress(value), undefined, String(value));
  });
});

describe('Who organizes and who attends', () => {
  const object = parseCalendarObject(meeting);

  it('finds the organizer and every attendee of any instance once', () => {
    assert.equal(organizerOf(object), 'olga@example.org');
    assert.deepEqual(attendeesOf(object).sort(), [
      'bob@example.org',
      'carol@example.org',
      'dave@example.org',
      'olga@example.org',
    ]);
    assert.equal(summaryOf(object), 'Planning');
  });

  it('reads PARTSTAT from the master, NEEDS-ACTION when absent (RFC 5545 §3.2.12)', () => {
    assert.equal(partStatOf(object, 'olga@example.org'), 'ACCEPTED');
    assert.equal(partStatOf(object, 'bob@example.org'), 'NEEDS-ACTION');
    assert.equal(partStatOf(object, 'carol@example.org'), 'NEEDS-ACTION');
    assert.equal(partStatOf(object, 'dave@example.org'), undefined, 'only invited to the override');
    assert.equal(partStatOf(object, 'nobody@example.org'), undefined);
  });

  it('has no organizer without ORGANIZER, and a placeholder summary without SUMMARY', () => {
    const plain = parseCalendarObject(calendar([component(['DTSTART:20260105T100000Z'])]));
    assert.equal(organizerOf(plain), undefined);
    assert.deepEqual(attendeesOf(plain), []);
    assert.equal(summaryOf(plain), '(no title)');
  });
});

describe('Whether the times changed', () => {
  const object = (lines: string[]) => parseCalendarObject(calendar([component(lines)]));
  const base = ['DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', 'SUMMARY:a', 'RRULE:FREQ=DAILY;COUNT=3'];

  it('sees changes of start, end, rule, and excluded instances', () => {
    for (const [from, to] of [
      ['DTSTART:20260105T100000Z', 'DTSTART:20260105T090000Z'],
      ['DTEND:20260105T110000Z', 'DTEND:20260105T120000Z'],
      ['RRULE:FREQ=DAILY;COUNT=3', 'RRULE:FREQ=DAILY;COUNT=4'],
    ] as const) {
      assert.equal(timesChanged(object(base), object(base.map((l) => (l === from ? to : l)))), true, to);
    }
    assert.equal(timesChanged(object(base), object([...base, 'EXDATE:20260106T100000Z'])), true, 'EXDATE');
  });

  it('ignores changes that leave the times alone', () => {
    assert.equal(timesChanged(object(base), object(base.map((l) => (l === 'SUMMARY:a' ? 'SUMMARY:b' : l)))), false);
    assert.equal(
      timesChanged(object(base), object([...base, 'LOCATION:elsewhere', 'ATTENDEE:mailto:new@example.org'])),
      false,
    );
  });
});

describe('REQUEST and CANCEL (RFC 5546 §3.2.2, §3.2.5)', () => {
  it('adds METHOD:REQUEST, replacing any METHOD, and keeps the components as they are', () => {
    const request = itipMessage(calendar([component(masterLines)], ['METHOD:PUBLISH']), 'REQUEST');
    assert.equal(methodOf(parseCalendar(request)), 'REQUEST');
    assert.equal(parseCalendar(request).getAllProperties('method').length, 1);
    assert.deepEqual(attendeeLines(itemsOf(request)[0]!), attendeeLines(itemsOf(meeting)[0]!));
    assert.equal(itemsOf(request)[0]!.getFirstPropertyValue('sequence'), 2);
  });

  it('marks every component of a CANCEL cancelled with a higher SEQUENCE, time zones untouched', () => {
    const cancel = itipMessage(meeting, 'CANCEL');
    const root = parseCalendar(cancel);
    assert.equal(methodOf(root), 'CANCEL');
    const [master, override] = itemsOf(cancel);
    assert.equal(master!.getFirstPropertyValue('status'), 'CANCELLED');
    assert.equal(master!.getFirstPropertyValue('sequence'), 3);
    assert.equal(override!.getFirstPropertyValue('status'), 'CANCELLED');
    assert.ok(Number(override!.getFirstPropertyValue('sequence')) > 0);
    assert.equal(String(master!.getFirstPropertyValue('uid')), 'u-1');
    const timezone = root.getFirstSubcomponent('vtimezone')!;
    assert.equal(timezone.getFirstProperty('status'), null);
    assert.equal(timezone.getFirstProperty('sequence'), null);
  });

  it('writes CRLF line ends and ends with one', () => {
    for (const text of [
      itipMessage(meeting, 'REQUEST'),
      itipMessage(meeting, 'CANCEL'),
      replyMessage(meeting, 'bob@example.org', 'ACCEPTED'),
    ]) {
      assert.ok(text.endsWith('END:VCALENDAR\r\n'));
      assert.ok(!/[^\r]\n/.test(text), 'a bare LF');
    }
  });

  it('reads METHOD in upper case, or an empty string without one', () => {
    assert.equal(methodOf(parseCalendar(calendar([component([])], ['METHOD:request']))), 'REQUEST');
    assert.equal(methodOf(parseCalendar(meeting)), '');
  });
});

describe('REPLY (RFC 5546 §3.2.3)', () => {
  const reply = replyMessage(meeting, 'bob@example.org', 'ACCEPTED', 'See you there');
  const [master, override] = itemsOf(reply);

  it('carries METHOD:REPLY, UID, ORGANIZER, SEQUENCE and RECURRENCE-ID of the request', () => {
    assert.equal(methodOf(parseCalendar(reply)), 'REPLY');
    assert.equal(String(master!.getFirstPropertyValue('uid')), 'u-1');
    assert.equal(calendarAddress(master!.getFirstPropertyValue('organizer')), 'olga@example.org');
    assert.equal(master!.getFirstPropertyValue('sequence'), 2);
    assert.equal(String(override!.getFirstPropertyValue('recurrence-id')), '2026-01-06T10:00:00Z');
  });

  it('names only the replying attendee, with the new PARTSTAT and without RSVP', () => {
    for (const item of [master!, override!]) {
      const attendees = item.getAllProperties('attendee');
      assert.equal(attendees.length, 1);
      assert.equal(calendarAddress(attendees[0]!.getFirstValue()), 'bob@example.org');
      assert.equal(attendees[0]!.getParameter('partstat'), 'ACCEPTED');
      assert.equal(attendees[0]!.getParameter('rsvp'), undefined);
    }
    assert.equal(master!.getFirstProperty('attendee')!.getParameter('cn'), 'Bob', 'other parameters kept');
  });

  it("leaves out the description, location and alarms, and adds the attendee's comment", () => {
    for (const item of [master!, override!]) {
      for (const name of ['description', 'location']) assert.equal(item.getFirstProperty(name), null, name);
      assert.equal(item.getAllSubcomponents('valarm').length, 0);
      assert.equal(item.getFirstPropertyValue('comment'), 'See you there');
    }
    assert.equal(replyMessage(meeting, 'bob@example.org', 'DECLINED').includes('COMMENT'), false);
  });

  it('stamps the reply with the time it is made', () => {
    const before = Date.now() - 1000;
    const stamp = (master!.getFirstPropertyValue('dtstamp') as ICAL.Time).toJSDate().getTime();
    assert.ok(stamp >= before - 60_000 && stamp <= Date.now() + 1000, new Date(stamp).toISOString());
  });

  it('adds the attendee when the request did not name it (an invitation forwarded to them)', () => {
    const [item] = itemsOf(replyMessage(meeting, 'zed@example.org', 'TENTATIVE'));
    assert.deepEqual(attendeeLines(item!), ['ATTENDEE;PARTSTAT=TENTATIVE:mailto:zed@example.org']);
  });
});

describe('Attendee status in stored objects', () => {
  it("sets one attendee's PARTSTAT (and SCHEDULE-STATUS) in every component, matching the address in any case", () => {
    const updated = withPartStat(meeting, 'bob@example.org', 'DECLINED', '2.0');
    for (const item of itemsOf(updated)) {
      const bob = item
        .getAllProperties('attendee')
        .find((p) => calendarAddress(p.getFirstValue()) === 'bob@example.org')!;
      assert.equal(bob.getParameter('partstat'), 'DECLINED');
      assert.equal(bob.getParameter('schedule-status'), '2.0');
    }
    assert.equal(partStatOf(parseCalendarObject(updated), 'carol@example.org'), 'NEEDS-ACTION', 'others untouched');
  });

  it('records delivery results, and reports no change when they are already recorded', () => {
    assert.equal(withDeliveryResults(meeting, new Map([['nobody@example.org', { status: '1.1' }]])), undefined);
    const recorded = withDeliveryResults(
      meeting,
      new Map([
        ['bob@example.org', { status: '1.2' }],
        ['carol@example.org', { status: '1.2', partStat: 'ACCEPTED' }],
      ]),
    )!;
    assert.ok(recorded);
    const master = itemsOf(recorded)[0]!;
    const byAddress = new Map(master.getAllProperties('attendee').map((p) => [calendarAddress(p.getFirstValue()), p]));
    assert.equal(byAddress.get('bob@example.org')!.getParameter('schedule-status'), '1.2');
    assert.equal(byAddress.get('bob@example.org')!.getParameter('partstat'), 'NEEDS-ACTION');
    assert.equal(byAddress.get('carol@example.org')!.getParameter('partstat'), 'ACCEPTED');
    assert.equal(withDeliveryResults(recorded, new Map([['bob@example.org', { status: '1.2' }]])), undefined);
  });

  it("keeps an attendee's earlier answer in a new version, but not NEEDS-ACTION", () => {
    const answered = parseCalendarObject(withPartStat(meeting, 'carol@example.org', 'ACCEPTED'));
    assert.equal(
      partStatOf(parseCalendarObject(keepPartStat(meeting, 'carol@example.org', answered)), 'carol@example.org'),
      'ACCEPTED',
    );
    assert.equal(keepPartStat(meeting, 'bob@example.org', answered), meeting, 'bob never answered');
    assert.equal(keepPartStat(meeting, 'carol@example.org', undefined), meeting);
  });

  it('stores an iTIP message without METHOD, and marks a cancelled copy CANCELLED', () => {
    const stored = withoutMethod(itipMessage(meeting, 'REQUEST'));
    assert.equal(methodOf(parseCalendar(stored)), '');
    parseCalendarObject(stored);
    for (const item of itemsOf(cancelled(meeting))) assert.equal(item.getFirstPropertyValue('status'), 'CANCELLED');
    assert.equal(
      itemsOf(cancelled(meeting))[0]!.getFirstPropertyValue('sequence'),
      2,
      "the copy keeps the organizer's SEQUENCE",
    );
  });
});
