// Which instances a calendar object has in a time range (RFC 5545 §3.8.5 recurrence sets, RFC 4791 §9.9
// overlap): RRULE with COUNT and UNTIL, RDATE and EXDATE, overridden and moved instances, time zones
// across DST changes, all-day events and tasks. recurrence.test.ts covers the work bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCalendarObject } from '../../src/calendar/calendar-object.ts';
import { instances, openEnd, openStart, overlaps } from '../../src/calendar/recurrence.ts';
import { calendar, component } from '../helpers/icalendar-text.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');

/** The instances of the object in [from, to) as "start/end" in UTC, with the SUMMARY of the component describing each when it has one. */
function expand(components: string[][], from = Date.UTC(2000, 0, 1), to = Date.UTC(2100, 0, 1)): string[] {
  return [...instances(parseCalendarObject(calendar(components)), from, to)].map((i) => {
    const summary = i.item.getFirstPropertyValue('summary');
    return `${iso(i.start)}/${iso(i.end)}${summary ? ` ${String(summary)}` : ''}`;
  });
}

const event = (lines: string[]) => expand([component(lines)]);
/** The span stored with the object, from which time-range queries take their candidates, as "start/end" in UTC. */
const span = (lines: string[]) => {
  const { start, end } = parseCalendarObject(calendar([component(lines)])).span;
  return `${iso(start)}/${iso(end)}`;
};
const hourAt = (day: string, hour = '10') =>
  `2026-01-${day}T${hour}:00Z/2026-01-${day}T${String(Number(hour) + 1).padStart(2, '0')}:00Z`;
const daily = ['DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z'];

describe('Recurrence sets (RFC 5545 §3.8.5)', () => {
  it('ends a rule after COUNT instances, DTSTART being the first', () => {
    assert.deepEqual(event([...daily, 'RRULE:FREQ=DAILY;COUNT=3']), [hourAt('05'), hourAt('06'), hourAt('07')]);
  });

  it('ends a rule at UNTIL, an instance at UNTIL included', () => {
    assert.deepEqual(
      event(['DTSTART:20260105T100000Z', 'DURATION:PT30M', 'RRULE:FREQ=WEEKLY;UNTIL=20260119T100000Z']),
      [
        '2026-01-05T10:00Z/2026-01-05T10:30Z',
        '2026-01-12T10:00Z/2026-01-12T10:30Z',
        '2026-01-19T10:00Z/2026-01-19T10:30Z',
      ],
    );
    assert.deepEqual(event([...daily, 'RRULE:FREQ=DAILY;UNTIL=20260107T095959Z']), [hourAt('05'), hourAt('06')]);
  });

  it('removes EXDATE instances and adds RDATE ones', () => {
    assert.deepEqual(
      event([
        ...daily,
        'RRULE:FREQ=DAILY;COUNT=5',
        'EXDATE:20260106T100000Z,20260108T100000Z',
        'RDATE:20260120T150000Z',
      ]),
      [hourAt('05'), hourAt('07'), hourAt('09'), hourAt('20', '15')],
    );
  });

  it('matches EXDATE in the time zone of DTSTART', () => {
    assert.deepEqual(
      event([
        'DTSTART;TZID=Europe/Berlin:20260105T100000',
        'DTEND;TZID=Europe/Berlin:20260105T110000',
        'RRULE:FREQ=DAILY;COUNT=3',
        'EXDATE;TZID=Europe/Berlin:20260106T100000',
      ]),
      [hourAt('05', '09'), hourAt('07', '09')],
    );
  });

  it('skips dates a rule names that do not exist, without counting them (RFC 5545 §3.3.10)', () => {
    assert.deepEqual(
      event(['DTSTART:20260131T100000Z', 'RRULE:FREQ=MONTHLY;COUNT=4']).map((i) => i.slice(0, 10)),
      ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31'],
    );
  });

  it('follows BYDAY with an ordinal (the last Friday of each month)', () => {
    assert.deepEqual(
      event(['DTSTART:20260130T100000Z', 'RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3']).map((i) => i.slice(0, 10)),
      ['2026-01-30', '2026-02-27', '2026-03-27'],
    );
  });

  it('counts DTSTART as the first instance of an event with RDATE and no RRULE (RFC 5545 §3.8.2.4, §3.8.5.2)', () => {
    assert.deepEqual(event([...daily, 'RDATE:20260106T100000Z']), [hourAt('05'), hourAt('06')]);
    assert.deepEqual(event([...daily, 'RDATE:20260106T100000Z', 'EXDATE:20260106T100000Z']), [hourAt('05')]);
    assert.equal(span([...daily, 'RDATE:20260106T100000Z', 'EXDATE:20260106T100000Z']), hourAt('05'));
  });

  it('gives a set whose every instance is excluded no instance and a span no time range meets', () => {
    const excluded = [...daily, 'RDATE:20260106T100000Z', 'EXDATE:20260105T100000Z,20260106T100000Z'];
    assert.deepEqual(event(excluded), []);
    const { start, end } = parseCalendarObject(calendar([component(excluded)])).span;
    assert.ok(start > end, `${start} > ${end}`);
  });

  it('gives an instance that both RRULE and RDATE produce once (RFC 5545 §3.8.5.2: duplicates are ignored)', () => {
    assert.deepEqual(event([...daily, 'RRULE:FREQ=DAILY;COUNT=3', 'RDATE:20260106T100000Z']), [
      hourAt('05'),
      hourAt('06'),
      hourAt('07'),
    ]);
  });

  it('excludes an EXDATE even when an RDATE names it too (RFC 5545 §3.8.5.1)', () => {
    assert.deepEqual(
      event([...daily, 'RRULE:FREQ=DAILY;COUNT=3', 'RDATE:20260106T100000Z', 'EXDATE:20260106T100000Z']),
      [hourAt('05'), hourAt('07')],
    );
  });

  it('accepts RDATE;VALUE=PERIOD, the instance lasting the period (RFC 5545 §3.8.5.2)', () => {
    assert.deepEqual(
      event([...daily, 'RRULE:FREQ=DAILY;INTERVAL=2;COUNT=2', 'RDATE;VALUE=PERIOD:20260106T000000Z/PT2H']),
      [hourAt('05'), '2026-01-06T00:00Z/2026-01-06T02:00Z', hourAt('07')],
    );
    assert.equal(
      span([...daily, 'RDATE;VALUE=PERIOD:20260106T000000Z/20260108T000000Z']),
      '2026-01-05T10:00Z/2026-01-08T00:00Z',
    );
  });
});

describe('Overridden instances (RECURRENCE-ID)', () => {
  const master = component([...daily, 'RRULE:FREQ=DAILY;COUNT=3', 'SUMMARY:master']);
  const moved = component([
    'RECURRENCE-ID:20260106T100000Z',
    'DTSTART:20260110T120000Z',
    'DTEND:20260110T130000Z',
    'SUMMARY:moved',
  ]);

  it("replaces an instance by its override, at the override's time", () => {
    assert.deepEqual(expand([master, moved]), [
      `${hourAt('05')} master`,
      `${hourAt('10', '12')} moved`,
      `${hourAt('07')} master`,
    ]);
  });

  it('finds a moved instance in a range its original time is not in, and not in its original slot', () => {
    assert.deepEqual(expand([master, moved], Date.UTC(2026, 0, 10), Date.UTC(2026, 0, 11)), [
      `${hourAt('10', '12')} moved`,
    ]);
    assert.deepEqual(expand([master, moved], Date.UTC(2026, 0, 6), Date.UTC(2026, 0, 7)), []);
  });

  it('moves this and every later instance for RANGE=THISANDFUTURE', () => {
    const later = component([
      'RECURRENCE-ID;RANGE=THISANDFUTURE:20260107T100000Z',
      'DTSTART:20260107T140000Z',
      'DTEND:20260107T150000Z',
      'SUMMARY:later',
    ]);
    const open = component([...daily, 'RRULE:FREQ=DAILY', 'SUMMARY:master']);
    assert.deepEqual(expand([open, later], Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 10)), [
      `${hourAt('05')} master`,
      `${hourAt('06')} master`,
      `${hourAt('07', '14')} later`,
      `${hourAt('08', '14')} later`,
      `${hourAt('09', '14')} later`,
    ]);
  });
});

describe('Time zones and DST (RFC 5545 §3.3.5, §3.3.6)', () => {
  it('keeps the wall-clock time of a zoned series across a DST change', () => {
    const times = event([
      'DTSTART;TZID=Europe/Berlin:20260327T090000',
      'DTEND;TZID=Europe/Berlin:20260327T100000',
      'RRULE:FREQ=DAILY;COUNT=4',
    ]);
    assert.deepEqual(times, [
      '2026-03-27T08:00Z/2026-03-27T09:00Z',
      '2026-03-28T08:00Z/2026-03-28T09:00Z',
      '2026-03-29T07:00Z/2026-03-29T08:00Z',
      '2026-03-30T07:00Z/2026-03-30T08:00Z',
    ]);
  });

  it('takes the first of a local time that occurs twice', () => {
    assert.deepEqual(
      event(['DTSTART;TZID=America/New_York:20261101T013000', 'DTEND;TZID=America/New_York:20261101T023000']),
      ['2026-11-01T05:30Z/2026-11-01T07:30Z'],
    );
  });

  it('lasts a nominal day for P1D over a DST change (same wall-clock time the next day)', () => {
    assert.deepEqual(event(['DTSTART;TZID=Europe/Berlin:20260328T100000', 'DURATION:P1D']), [
      '2026-03-28T09:00Z/2026-03-29T08:00Z',
    ]);
  });

  it('gives every instance of a series the exact length from DTSTART to DTEND (RFC 5545 §3.8.5.3)', () => {
    assert.deepEqual(
      event([
        'DTSTART;TZID=Europe/Berlin:20260327T100000',
        'DTEND;TZID=Europe/Berlin:20260328T100000',
        'RRULE:FREQ=DAILY;COUNT=2',
      ]),
      ['2026-03-27T09:00Z/2026-03-28T09:00Z', '2026-03-28T09:00Z/2026-03-29T09:00Z'],
    );
  });

  it('lasts exact time for a DURATION in hours over a DST change (PT1H is one hour, PT24H 24 hours)', () => {
    assert.deepEqual(event(['DTSTART;TZID=America/New_York:20261101T013000', 'DURATION:PT1H']), [
      '2026-11-01T05:30Z/2026-11-01T06:30Z',
    ]);
    assert.equal(
      span(['DTSTART;TZID=America/New_York:20261101T013000', 'DURATION:PT1H']),
      '2026-11-01T05:30Z/2026-11-01T06:30Z',
    );
    assert.deepEqual(event(['DTSTART;TZID=Europe/Berlin:20260328T100000', 'DURATION:PT24H']), [
      '2026-03-28T09:00Z/2026-03-29T09:00Z',
    ]);
  });

  it('reads a local time inside the spring-forward gap with the offset before the gap (RFC 5545 §3.3.5)', () => {
    assert.deepEqual(event(['DTSTART;TZID=America/New_York:20260308T023000', 'DURATION:PT1H']), [
      '2026-03-08T07:30Z/2026-03-08T08:30Z',
    ]);
    assert.equal(
      span(['DTSTART;TZID=America/New_York:20260308T023000', 'DURATION:PT1H']),
      '2026-03-08T07:30Z/2026-03-08T08:30Z',
    );
  });

  it('reads times in a zone the object defines (VTIMEZONE) as in the IANA zone, where ical.js takes the later offset', () => {
    const newYork = [
      'BEGIN:VTIMEZONE',
      'TZID:NY',
      'BEGIN:DAYLIGHT',
      'TZOFFSETFROM:-0500',
      'TZOFFSETTO:-0400',
      'DTSTART:20070311T020000',
      'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU',
      'END:DAYLIGHT',
    ].concat([
      'BEGIN:STANDARD',
      'TZOFFSETFROM:-0400',
      'TZOFFSETTO:-0500',
      'DTSTART:20071104T020000',
      'RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU',
      'END:STANDARD',
      'END:VTIMEZONE',
    ]);
    const at = (local: string) => expand([newYork, component([`DTSTART;TZID=NY:${local}`, 'DURATION:PT1H'])]);
    assert.deepEqual(at('20261101T013000'), ['2026-11-01T05:30Z/2026-11-01T06:30Z']);
    assert.deepEqual(at('20261101T023000'), ['2026-11-01T07:30Z/2026-11-01T08:30Z']);
    assert.deepEqual(at('20260308T023000'), ['2026-03-08T07:30Z/2026-03-08T08:30Z']);
    assert.deepEqual(at('20260308T033000'), ['2026-03-08T07:30Z/2026-03-08T08:30Z']);
  });
});

describe('All-day events, tasks and journals', () => {
  it('gives a DATE event a whole day per instance (floating, read as UTC)', () => {
    assert.deepEqual(event(['DTSTART;VALUE=DATE:20260105', 'RRULE:FREQ=YEARLY;COUNT=3']), [
      '2026-01-05T00:00Z/2026-01-06T00:00Z',
      '2027-01-05T00:00Z/2027-01-06T00:00Z',
      '2028-01-05T00:00Z/2028-01-06T00:00Z',
    ]);
  });

  it('gives a recurring task the length from DTSTART to DUE', () => {
    assert.deepEqual(
      expand([component(['DTSTART:20260105T100000Z', 'DUE:20260105T120000Z', 'RRULE:FREQ=DAILY;COUNT=2'], 'VTODO')]),
      ['2026-01-05T10:00Z/2026-01-05T12:00Z', '2026-01-06T10:00Z/2026-01-06T12:00Z'],
    );
  });

  it('gives a task without dates all time, and one with only DUE that instant (RFC 4791 §9.9)', () => {
    const undated = [...instances(parseCalendarObject(calendar([component([], 'VTODO')])), 0, 1)];
    assert.deepEqual(
      undated.map((i) => [i.start, i.end]),
      [[openStart, openEnd]],
    );
    assert.deepEqual(expand([component(['DUE:20260105T120000Z'], 'VTODO')]), ['2026-01-05T12:00Z/2026-01-05T12:00Z']);
  });

  it('gives a journal entry with a DATE that day', () => {
    assert.deepEqual(expand([component(['DTSTART;VALUE=DATE:20260105'], 'VJOURNAL')]), [
      '2026-01-05T00:00Z/2026-01-06T00:00Z',
    ]);
  });
});

describe('Time ranges (RFC 4791 §9.9)', () => {
  it('finds instances that overlap the range, not those that only touch it', () => {
    const components = [component([...daily, 'RRULE:FREQ=DAILY;COUNT=3'])];
    assert.deepEqual(expand(components, Date.UTC(2026, 0, 6, 11), Date.UTC(2026, 0, 7, 10)), []);
    assert.deepEqual(expand(components, Date.UTC(2026, 0, 6, 10, 59), Date.UTC(2026, 0, 7, 10, 1)), [
      hourAt('06'),
      hourAt('07'),
    ]);
  });

  it('finds a zero-length instance at the start of the range but not at its end', () => {
    assert.equal(overlaps({ start: 10, end: 10 }, 10, 20), true);
    assert.equal(overlaps({ start: 20, end: 20 }, 10, 20), false);
    assert.equal(overlaps({ start: 5, end: 10 }, 10, 20), false);
    assert.equal(overlaps({ start: 5, end: 11 }, 10, 20), true);
    assert.equal(overlaps({ start: 19, end: 30 }, 10, 20), true);
    assert.equal(overlaps({ start: openStart, end: openEnd }, 10, 20), true);
  });

  it('finds instances of a series started long before the range', () => {
    const found = expand(
      [component(['DTSTART;TZID=Europe/Berlin:20000103T100000', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;BYDAY=MO'])],
      Date.UTC(2026, 0, 5),
      Date.UTC(2026, 0, 13),
    );
    assert.deepEqual(found, ['2026-01-05T09:00Z/2026-01-05T10:00Z', '2026-01-12T09:00Z/2026-01-12T10:00Z']);
  });

  it('finds instances of a series started long before the range that began before it and last into it', () => {
    const found = expand(
      [component(['DTSTART:20200105T100000Z', 'DURATION:P10D', 'RRULE:FREQ=DAILY'])],
      Date.UTC(2026, 0, 5),
      Date.UTC(2026, 0, 6),
    );
    assert.equal(found.length, 11);
    assert.deepEqual(
      [found[0], found.at(-1)],
      ['2025-12-26T10:00Z/2026-01-05T10:00Z', '2026-01-05T10:00Z/2026-01-15T10:00Z'],
    );
  });
});
