// Dates and date-times as RFC 5545 writes them (§3.3.4 DATE, §3.3.5 DATE-TIME, §3.3.9 PERIOD): a CalDAV
// PUT with an impossible one (month 13, 31 February, hour 25) is refused with valid-calendar-data and
// a message naming the property, the component and the value, instead of ical.js rolling it over onto
// another day; so is a DTEND whose value type differs from DTSTART's (§3.8.2.2). A DUE may differ,
// as clients send it.
// Nothing is stored after a refusal. Real edge cases (29 February of a leap year, a leap second, all-day,
// floating and TZID-qualified times) are still accepted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

/** A VCALENDAR holding one component; `lines` go inside it after UID and DTSTAMP. */
function calendarData(uid: string, lines: string[], component = 'VEVENT', more: string[] = []): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    `BEGIN:${component}`,
    `UID:${uid}`,
    'DTSTAMP:20261101T000000Z',
    ...lines,
    'SUMMARY:Date test',
    `END:${component}`,
    ...more,
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** The text of the error body's message element. */
function messageOf(body: string): string {
  const text = /<[A-Za-z]*:?message[^>]*>([\s\S]*?)</.exec(body)?.[1] ?? '';
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

describe('CalDAV: dates and date-times are checked as written', () => {
  let t: TestNode;
  let base: string;
  const calendar = '/dav/calendars/alice@test.example/calendar/';
  const auth = `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}`;
  const request = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method, body, headers: { Authorization: auth, ...headers } });
  const put = (name: string, body: string) =>
    request('PUT', `${calendar}${name}.ics`, body, { 'Content-Type': 'text/calendar' });

  before(async () => {
    t = await startTestNode('sqlite');
    base = `http://127.0.0.1:${t.port('http')}`;
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
  });
  after(() => t.stop());

  const refused: { name: string; body: string; message: RegExp }[] = [
    {
      name: 'month-13',
      body: calendarData('month-13', ['DTSTART:20261310T100000Z', 'DTEND:20261310T110000Z']),
      message: /^DTSTART of the VEVENT is not a valid date-time: "20261310T100000Z" has month 13$/,
    },
    {
      name: 'february-31',
      body: calendarData('february-31', ['DTSTART:20260231T100000Z', 'DTEND:20260231T110000Z']),
      message:
        /^DTSTART of the VEVENT is not a valid date-time: "20260231T100000Z" has day 31 \(month 2 of 2026 has 28 days\)$/,
    },
    {
      name: 'february-29-not-leap',
      body: calendarData('february-29-not-leap', ['DTSTART;VALUE=DATE:20270229']),
      message: /^DTSTART of the VEVENT is not a valid date: "20270229" has day 29 \(month 2 of 2027 has 28 days\)$/,
    },
    {
      name: 'hour-25',
      body: calendarData('hour-25', ['DTSTART:20261210T250000Z', 'DTEND:20261211T010000Z']),
      message: /^DTSTART of the VEVENT is not a valid date-time: "20261210T250000Z" has hour 25$/,
    },
    {
      name: 'minute-60-in-dtend',
      body: calendarData('minute-60-in-dtend', ['DTSTART:20261210T100000Z', 'DTEND:20261210T106000Z']),
      message: /^DTEND of the VEVENT is not a valid date-time: "20261210T106000Z" has minute 60$/,
    },
    {
      name: 'iso-style',
      body: calendarData('iso-style', ['DTSTART:2026-12-10T10:00:00Z']),
      message:
        /^DTSTART of the VEVENT is not a valid date-time: "2026-12-10T10:00:00Z" is not an RFC 5545 DATE-TIME \(YYYYMMDDTHHMMSS, with Z for UTC\)$/,
    },
    {
      name: 'date-without-value-date',
      body: calendarData('date-without-value-date', ['DTSTART:20261210']),
      message: /"20261210" is not an RFC 5545 DATE-TIME .*; a DATE needs VALUE=DATE$/,
    },
    {
      name: 'date-time-as-date',
      body: calendarData('date-time-as-date', ['DTSTART;VALUE=DATE:20261210T100000']),
      message: /^DTSTART of the VEVENT is not a valid date: "20261210T100000" is not an RFC 5545 DATE \(YYYYMMDD\)/,
    },
    {
      name: 'dtend-date',
      body: calendarData('dtend-date', ['DTSTART:20261210T100000Z', 'DTEND;VALUE=DATE:20261211']),
      message:
        /^DTEND of the VEVENT is a DATE but its DTSTART is a DATE-TIME; RFC 5545 §3.8.2.2 requires both to have the same value type$/,
    },
    {
      name: 'due-bad',
      body: calendarData('due-bad', ['DUE:20261200T100000Z'], 'VTODO'),
      message: /^DUE of the VTODO is not a valid date-time: "20261200T100000Z" has day 0/,
    },
    {
      name: 'until-bad',
      body: calendarData('until-bad', ['DTSTART:20261210T100000Z', 'RRULE:FREQ=DAILY;UNTIL=20261232T000000Z']),
      message: /^UNTIL of the RRULE of the VEVENT is not a valid date-time: "20261232T000000Z" has day 32/,
    },
    {
      name: 'exdate-bad',
      body: calendarData('exdate-bad', [
        'DTSTART:20261210T100000Z',
        'RRULE:FREQ=DAILY;COUNT=5',
        'EXDATE:20261211T100000Z,20261212T100061Z',
      ]),
      message: /^EXDATE of the VEVENT is not a valid date-time: "20261212T100061Z" has second 61$/,
    },
    {
      name: 'rdate-period-bad',
      body: calendarData('rdate-period-bad', [
        'DTSTART:20261210T100000Z',
        'RDATE;VALUE=PERIOD:20261211T100000Z/20261211T240000Z',
      ]),
      message: /^RDATE of the VEVENT \(period end\) is not a valid date-time: "20261211T240000Z" has hour 24$/,
    },
    {
      name: 'recurrence-id-bad',
      body: calendarData('recurrence-id-bad', ['DTSTART:20261210T100000Z', 'RRULE:FREQ=DAILY;COUNT=5'], 'VEVENT', [
        'BEGIN:VEVENT',
        'UID:recurrence-id-bad',
        'DTSTAMP:20261101T000000Z',
        'RECURRENCE-ID:20261311T100000Z',
        'DTSTART:20261211T120000Z',
        'END:VEVENT',
      ]),
      message: /^RECURRENCE-ID of the VEVENT is not a valid date-time: "20261311T100000Z" has month 13$/,
    },
    {
      name: 'timezone-bad',
      body: calendarData('timezone-bad', ['DTSTART;TZID=Test/Zone:20261210T100000'], 'VEVENT', [
        'BEGIN:VTIMEZONE',
        'TZID:Test/Zone',
        'BEGIN:STANDARD',
        'DTSTART:19701332T000000',
        'TZOFFSETFROM:+0100',
        'TZOFFSETTO:+0100',
        'END:STANDARD',
        'END:VTIMEZONE',
      ]),
      message: /^DTSTART of the STANDARD is not a valid date-time: "19701332T000000" has month 13$/,
    },
  ];

  for (const { name, body, message } of refused) {
    it(`refuses ${name} with valid-calendar-data and stores nothing`, async () => {
      const response = await put(name, body);
      const text = await response.text();
      assert.equal(response.status, 403, text);
      assert.match(text, /<C:valid-calendar-data\/>/);
      assert.match(messageOf(text), message);
      assert.equal((await request('GET', `${calendar}${name}.ics`)).status, 404);
    });
  }

  it('does not roll a refused month 13 over into January of the next year', async () => {
    await put('month-13', calendarData('month-13', ['DTSTART:20261310T100000Z', 'DTEND:20261310T110000Z']));
    const response = await request(
      'REPORT',
      calendar,
      '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20270101T000000Z" end="20270201T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
      { Depth: '1', 'Content-Type': 'application/xml' },
    );
    assert.equal(response.status, 207);
    assert.doesNotMatch(await response.text(), /month-13/);
  });

  const accepted: { name: string; body: string }[] = [
    { name: 'leap-day', body: calendarData('leap-day', ['DTSTART:20280229T100000Z', 'DTEND:20280229T110000Z']) },
    { name: 'leap-second', body: calendarData('leap-second', ['DTSTART:20281231T235960Z', 'DURATION:PT1H']) },
    {
      name: 'all-day',
      body: calendarData('all-day', ['DTSTART;VALUE=DATE:20261224', 'DTEND;VALUE=DATE:20261226']),
    },
    { name: 'floating', body: calendarData('floating', ['DTSTART:20261210T090000', 'DTEND:20261210T100000']) },
    {
      name: 'zoned',
      body: calendarData('zoned', [
        'DTSTART;TZID=Europe/Berlin:20261210T090000',
        'DTEND;TZID=Europe/Berlin:20261210T100000',
      ]),
    },
    {
      name: 'all-day-task',
      body: calendarData('all-day-task', ['DTSTART;VALUE=DATE:20261210', 'DUE;VALUE=DATE:20261211'], 'VTODO'),
    },
    // RFC 5545 3.8.2.3 asks DUE to have DTSTART's type, but tasks.org, 2Do and Evolution send this.
    {
      name: 'all-day-task-due-at-a-time',
      body: calendarData(
        'all-day-task-due-at-a-time',
        ['DTSTART;VALUE=DATE:20261210', 'DUE:20261211T100000Z'],
        'VTODO',
      ),
    },
    { name: 'space-before-line-end', body: calendarData('space-before-line-end', ['DTSTART:20261210T100000Z ']) },
    {
      name: 'valid-recurrence',
      body: calendarData('valid-recurrence', [
        'DTSTART:20261210T100000Z',
        'RRULE:FREQ=DAILY;UNTIL=20261231T235959Z',
        'EXDATE:20261211T100000Z,20261212T100000Z',
        'RDATE;VALUE=PERIOD:20270102T100000Z/20270102T110000Z,20270103T100000Z/PT1H',
      ]),
    },
  ];

  for (const { name, body } of accepted) {
    it(`accepts ${name}`, async () => {
      const response = await put(name, body);
      assert.equal(response.status, 201, await response.text());
      assert.equal((await request('GET', `${calendar}${name}.ics`)).status, 200);
    });
  }
});
