// Recurrence sets and DST as a CalDAV client sees them, on each backend: which events a time-range
// REPORT finds (from the span stored with each object, then its instances), what free/busy says, and
// what an expanding REPORT writes. recurrence-instances.test.ts covers the instances themselves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { calendar, component } from '../helpers/icalendar-text.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const home = '/dav/calendars/alice@test.example/calendar/';

// America/New_York as clients send it: DST from the second Sunday of March to the first of November.
const newYork = [
  [
    'BEGIN:VTIMEZONE',
    'TZID:New York',
    'BEGIN:DAYLIGHT',
    'TZOFFSETFROM:-0500',
    'TZOFFSETTO:-0400',
    'TZNAME:EDT',
    'DTSTART:20070311T020000',
  ],
  [
    'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU',
    'END:DAYLIGHT',
    'BEGIN:STANDARD',
    'TZOFFSETFROM:-0400',
    'TZOFFSETTO:-0500',
    'TZNAME:EST',
  ],
  ['DTSTART:20071104T020000', 'RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU', 'END:STANDARD', 'END:VTIMEZONE'],
].flat();

const events: Record<string, string> = {
  // DTSTART is the first instance; the RDATE instance is excluded.
  'rdate-excluded': calendar([
    component(
      ['DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', 'RDATE:20260106T100000Z', 'EXDATE:20260106T100000Z'],
      'VEVENT',
      'rdate-excluded',
    ),
  ]),
  // RRULE and RDATE both name the 12th; an EXDATE removes the 13th although an RDATE names it too.
  'rdate-twice': calendar([
    component(
      [
        'DTSTART:20260112T100000Z',
        'DTEND:20260112T110000Z',
        'RRULE:FREQ=DAILY;COUNT=3',
        'RDATE:20260112T100000Z,20260113T100000Z',
        'EXDATE:20260113T100000Z',
      ],
      'VEVENT',
      'rdate-twice',
    ),
  ]),
  'rdate-period': calendar([
    component(
      ['DTSTART:20260119T100000Z', 'DTEND:20260119T110000Z', 'RDATE;VALUE=PERIOD:20260120T000000Z/PT2H'],
      'VEVENT',
      'rdate-period',
    ),
  ]),
  // One exact hour from 01:30 EDT on the night clocks go back: it ends at 01:30 EST (06:30Z).
  'fall-back': calendar([
    component(['DTSTART;TZID=America/New_York:20261101T013000', 'DURATION:PT1H'], 'VEVENT', 'fall-back'),
  ]),
  // 02:30 does not exist on 8 March in New York: read as EST, 07:30Z.
  'spring-gap': calendar([
    newYork,
    component(['DTSTART;TZID=New York:20260308T023000', 'DURATION:PT1H'], 'VEVENT', 'spring-gap'),
  ]),
};

const utc = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d+/g, '');

for (const name of backendNames) {
  describe(`Recurrence and DST over CalDAV on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    const request = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method,
        body,
        headers: {
          Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}`,
          ...headers,
        },
      });

    /** The events a time-range calendar-query finds in [start, end). */
    const found = async (start: number, end: number) => {
      const range = `<c:time-range start="${utc(start)}" end="${utc(end)}"/>`;
      const response = await request(
        'REPORT',
        home,
        `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">${range}</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
        { Depth: '1' },
      );
      assert.equal(response.status, 207);
      return [...(await response.text()).matchAll(/calendar\/([\w-]+)\.ics/g)].map((m) => m[1]).sort();
    };
    /** The BUSY periods free/busy gives for [start, end). */
    const busy = async (start: number, end: number) => {
      const response = await request(
        'REPORT',
        home,
        `<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="${utc(start)}" end="${utc(end)}"/></c:free-busy-query>`,
        { Depth: '1' },
      );
      assert.equal(response.status, 200);
      return [...(await response.text()).matchAll(/FREEBUSY;FBTYPE=BUSY:(\S+)/g)].map((m) => m[1]);
    };

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      for (const [uid, text] of Object.entries(events)) {
        const response = await request('PUT', `${home}${uid}.ics`, text, { 'Content-Type': 'text/calendar' });
        assert.equal(response.status, 201, `${uid}: ${await response.text()}`);
      }
    });
    after(() => t.stop());

    it('finds an RDATE event at its DTSTART, and neither at an excluded RDATE nor at other times', async () => {
      assert.deepEqual(await found(Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 6)), ['rdate-excluded']);
      assert.deepEqual(await found(Date.UTC(2026, 0, 6), Date.UTC(2026, 0, 7)), []);
      assert.deepEqual(await found(Date.UTC(2030, 0, 1), Date.UTC(2031, 0, 1)), []);
      assert.deepEqual(await busy(Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 7)), ['20260105T100000Z/20260105T110000Z']);
    });

    it('does not find an instance both RDATE and EXDATE name, and expands one RDATE equal to a rule instance once', async () => {
      assert.deepEqual(await found(Date.UTC(2026, 0, 13), Date.UTC(2026, 0, 14)), []);
      assert.deepEqual(await busy(Date.UTC(2026, 0, 12), Date.UTC(2026, 0, 15)), [
        '20260112T100000Z/20260112T110000Z',
        '20260114T100000Z/20260114T110000Z',
      ]);
      const expand = '<c:calendar-data><c:expand start="20260112T000000Z" end="20260115T000000Z"/></c:calendar-data>';
      const response = await request(
        'REPORT',
        home,
        `<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>${expand}</d:prop><d:href>${home}rdate-twice.ics</d:href></c:calendar-multiget>`,
        { Depth: '1' },
      );
      const starts = [...(await response.text()).matchAll(/DTSTART:(\w+)/g)].map((m) => m[1]);
      assert.deepEqual(starts, ['20260112T100000Z', '20260114T100000Z']);
    });

    it('stores an RDATE period and finds its instance for the length of the period', async () => {
      assert.deepEqual(await found(Date.UTC(2026, 0, 20, 1), Date.UTC(2026, 0, 20, 2)), ['rdate-period']);
      assert.deepEqual(await found(Date.UTC(2026, 0, 20, 2), Date.UTC(2026, 0, 20, 10)), []);
      assert.deepEqual(await busy(Date.UTC(2026, 0, 19), Date.UTC(2026, 0, 21)), [
        '20260119T100000Z/20260119T110000Z',
        '20260120T000000Z/20260120T020000Z',
      ]);
    });

    it('lasts exact hours across the DST change in autumn', async () => {
      assert.deepEqual(await busy(Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 2)), ['20261101T053000Z/20261101T063000Z']);
      assert.deepEqual(await found(Date.UTC(2026, 10, 1, 6, 30), Date.UTC(2026, 10, 1, 8)), []);
    });

    it('reads a local time in the spring-forward gap with the offset before it (VTIMEZONE sent)', async () => {
      assert.deepEqual(await busy(Date.UTC(2026, 2, 8), Date.UTC(2026, 2, 9)), ['20260308T073000Z/20260308T083000Z']);
      assert.deepEqual(await found(Date.UTC(2026, 2, 8, 6), Date.UTC(2026, 2, 8, 7, 30)), []);
      assert.deepEqual(await found(Date.UTC(2026, 2, 8, 8), Date.UTC(2026, 2, 8, 9)), ['spring-gap']);
    });
  });
}
