// CalDAV as a real client sees it: tsdav (discovery as Apple Calendar and DAVx5 do it, then the
// calendar operations) and plain HTTP requests for what tsdav does not cover, on each backend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAVClient, type DAVCalendar } from 'tsdav';
import { grantCalendar } from '../../src/calendar/calendar-access.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { event } from '../helpers/calendar-data.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

// Weekly on Tuesdays 10:00 Berlin time from 20 October, five times; 27 October cancelled and
// 3 November moved to 15:00 (an overridden instance).
const weekly = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Holdfast tests//EN',
  'BEGIN:VEVENT',
  'UID:weekly-sync',
  'DTSTAMP:20261101T000000Z',
  'DTSTART;TZID=Europe/Berlin:20261020T100000',
  'DURATION:PT1H',
  'RRULE:FREQ=WEEKLY;COUNT=5',
  'EXDATE;TZID=Europe/Berlin:20261027T100000',
  'SUMMARY:Weekly sync',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:weekly-sync',
  'DTSTAMP:20261101T000000Z',
  'RECURRENCE-ID;TZID=Europe/Berlin:20261103T100000',
  'DTSTART;TZID=Europe/Berlin:20261103T150000',
  'DURATION:PT1H',
  'SUMMARY:Weekly sync (moved)',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

for (const name of backendNames) {
  describe(`CalDAV with tsdav on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;

    const client = async (user = 'alice@test.example') => {
      const dav = new DAVClient({
        serverUrl: base,
        credentials: { username: user, password },
        authMethod: 'Basic',
        defaultAccountType: 'caldav',
      });
      await dav.login();
      return dav;
    };
    const request = (
      method: string,
      path: string,
      body?: string,
      headers: Record<string, string> = {},
      user = 'alice@test.example',
    ) =>
      fetch(`${base}${path}`, {
        method,
        body,
        headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, ...headers },
      });
    const defaultCalendar = async (user = 'alice@test.example') => {
      const calendars = await (await client(user)).fetchCalendars();
      return calendars.find((c) => c.url.endsWith('/calendar/'))!;
    };
    const home = '/dav/calendars/alice@test.example/';

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const directory = t.node.holdfast.directory;
      const tenant = await directory.tenant('default');
      await tenant.addPrincipal({
        kind: 'user',
        address: 'alice@test.example',
        password,
        displayName: 'Alice Liddell',
      });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      await directory.addTenant({ name: 'other' });
      const other = await directory.tenant('other');
      await other.addDomain('other.example');
      await other.addPrincipal({ kind: 'user', address: 'eve@other.example', password });
    });
    after(() => t.stop());

    it('is discovered from the server name alone and offers a default calendar', async () => {
      const dav = await client();
      assert.equal(dav.account?.principalUrl, `${base}/dav/principals/alice@test.example/`);
      assert.equal(dav.account?.homeUrl, `${base}${home}`);
      const calendars = await dav.fetchCalendars();
      assert.equal(calendars.length, 1);
      const [calendar] = calendars as [DAVCalendar];
      assert.equal(calendar.displayName, 'Calendar');
      assert.deepEqual(calendar.components, ['VEVENT', 'VTODO']);
      assert.ok(calendar.syncToken);
      assert.equal(String(calendar.ctag), '0');
    });

    it('creates, updates and deletes events with ETag preconditions', async () => {
      const dav = await client();
      const calendar = await defaultCalendar();
      const created = await dav.createCalendarObject({
        calendar,
        filename: 'lunch.ics',
        iCalString: event('lunch-1', '20261125T120000Z', '20261125T130000Z', 'Lunch'),
      });
      assert.equal(created.status, 201);
      const etag = created.headers.get('etag')!;
      assert.match(etag, /^"[0-9a-f]+"$/);

      // tsdav creates with If-None-Match: *, so the same name again is refused.
      const again = await dav.createCalendarObject({
        calendar,
        filename: 'lunch.ics',
        iCalString: event('lunch-1', '20261125T120000Z', '20261125T130000Z', 'Lunch again'),
      });
      assert.equal(again.status, 412);

      const url = `${calendar.url}lunch.ics`;
      const stale = await dav.updateCalendarObject({
        calendarObject: {
          url,
          etag: '"stale"',
          data: event('lunch-1', '20261125T123000Z', '20261125T133000Z', 'Late lunch'),
        },
      });
      assert.equal(stale.status, 412);
      const updated = await dav.updateCalendarObject({
        calendarObject: { url, etag, data: event('lunch-1', '20261125T123000Z', '20261125T133000Z', 'Late lunch') },
      });
      assert.equal(updated.status, 204);
      const newEtag = updated.headers.get('etag')!;
      assert.notEqual(newEtag, etag);

      const [stored] = await dav.fetchCalendarObjects({ calendar, objectUrls: [url] });
      assert.equal(stored?.etag, newEtag);
      assert.match(stored!.data, /SUMMARY:Late lunch\r\n/);

      const tooOld = await dav.deleteCalendarObject({ calendarObject: { url, etag } });
      assert.equal(tooOld.status, 412);
      const deleted = await dav.deleteCalendarObject({ calendarObject: { url, etag: newEtag } });
      assert.equal(deleted.status, 204);
      assert.equal((await request('GET', new URL(url).pathname)).status, 404);
    });

    it('finds recurring events with exceptions by time range, and expands them', async () => {
      const dav = await client();
      const calendar = await defaultCalendar();
      assert.equal(
        (await dav.createCalendarObject({ calendar, filename: 'weekly.ics', iCalString: weekly })).status,
        201,
      );
      assert.equal(
        (
          await dav.createCalendarObject({
            calendar,
            filename: 'spring.ics',
            iCalString: event('spring-1', '20270321T090000Z', '20270321T100000Z', 'Spring'),
          })
        ).status,
        201,
      );

      const summaries = async (start: string, end: string) =>
        (await dav.fetchCalendarObjects({ calendar, timeRange: { start, end } }))
          .map((o) => /UID:(.*)\r\n/.exec(o.data)?.[1])
          .sort();
      assert.deepEqual(await summaries('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'), ['weekly-sync']);
      assert.deepEqual(await summaries('2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'), ['spring-1']);
      // 27 October was cancelled (EXDATE): that week has nothing.
      assert.deepEqual(await summaries('2026-10-26T00:00:00Z', '2026-11-01T00:00:00Z'), []);
      // 3 November at 10:00 Berlin (09:00Z) was moved to 15:00 (14:00Z).
      assert.deepEqual(await summaries('2026-11-03T08:30:00Z', '2026-11-03T10:00:00Z'), []);
      assert.deepEqual(await summaries('2026-11-03T13:30:00Z', '2026-11-03T15:00:00Z'), ['weekly-sync']);
      // After the series (COUNT=5 ends 17 November) nothing recurs.
      assert.deepEqual(await summaries('2026-11-18T00:00:00Z', '2026-12-31T00:00:00Z'), []);

      const [expanded] = await dav.fetchCalendarObjects({
        calendar,
        timeRange: { start: '2026-10-01T00:00:00Z', end: '2026-12-01T00:00:00Z' },
        expand: true,
      });
      const starts = [...expanded!.data.matchAll(/^DTSTART:(\S+)\r?$/gm)].map((m) => m[1]);
      // Berlin is UTC+2 until 25 October, UTC+1 after: the instances keep 10:00 local time.
      assert.deepEqual(starts, ['20261020T080000Z', '20261103T140000Z', '20261110T090000Z', '20261117T090000Z']);
      assert.doesNotMatch(expanded!.data, /RRULE/);
      assert.match(expanded!.data, /SUMMARY:Weekly sync \(moved\)/);
    });

    it('syncs by token across changes, including deletions', async () => {
      const dav = await client();
      await dav.makeCalendar({ url: `${base}${home}sync-test/`, props: { displayname: 'Sync test' } });
      const calendar = (await dav.fetchCalendars()).find((c) => c.url.endsWith('/sync-test/'))!;
      assert.equal(calendar.displayName, 'Sync test');
      for (const n of [1, 2, 3])
        await dav.createCalendarObject({
          calendar,
          filename: `e${n}.ics`,
          iCalString: event(`sync-${n}`, '20261201T090000Z', '20261201T100000Z', `Event ${n}`),
        });

      const initial = await dav.syncCollection({
        url: calendar.url,
        props: { 'd:getetag': {} },
        syncLevel: 1,
        syncToken: '',
      });
      assert.equal(initial.filter((r) => r.href?.endsWith('.ics')).length, 3);
      const token = (await dav.fetchCalendars()).find((c) => c.url === calendar.url)!.syncToken as string;

      const [first] = await dav.fetchCalendarObjects({ calendar, objectUrls: [`${calendar.url}e1.ics`] });
      await dav.updateCalendarObject({
        calendarObject: { ...first!, data: event('sync-1', '20261201T110000Z', '20261201T120000Z', 'Event 1 moved') },
      });
      const [second] = await dav.fetchCalendarObjects({ calendar, objectUrls: [`${calendar.url}e2.ics`] });
      await dav.deleteCalendarObject({ calendarObject: second! });
      await dav.createCalendarObject({
        calendar,
        filename: 'e4.ics',
        iCalString: event('sync-4', '20261202T090000Z', '20261202T100000Z', 'Event 4'),
      });

      const changes = await dav.syncCollection({
        url: calendar.url,
        props: { 'd:getetag': {} },
        syncLevel: 1,
        syncToken: token,
      });
      const byHref = Object.fromEntries(
        changes.filter((r) => r.href).map((r) => [r.href!.split('/').at(-1), r.status]),
      );
      assert.deepEqual(byHref, { 'e1.ics': 207, 'e4.ics': 207, 'e2.ics': 404 });

      const bogus = await request(
        'REPORT',
        new URL(calendar.url).pathname,
        '<d:sync-collection xmlns:d="DAV:"><d:sync-token>http://elsewhere/1</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>',
      );
      assert.equal(bogus.status, 403);
      assert.match(await bogus.text(), /valid-sync-token/);
    });

    it('refuses malformed iCalendar and XML with a precise error, changing nothing', async () => {
      const calendar = await defaultCalendar();
      const path = new URL(calendar.url).pathname;
      const before = calendar.syncToken;
      const garbage = await request(
        'PUT',
        `${path}bad.ics`,
        'BEGIN:VCALENDAR\r\nthis is not iCalendar\r\nEND:VCALENDAR\r\n',
        { 'Content-Type': 'text/calendar' },
      );
      assert.equal(garbage.status, 403);
      const text = await garbage.text();
      assert.match(text, /<C:valid-calendar-data\/>/);
      assert.match(text, /not valid iCalendar/);

      const unknownZone = await request(
        'PUT',
        `${path}bad.ics`,
        event(
          'bad-zone',
          'DTSTART;TZID=Mars/Olympus:20261201T100000',
          'DTEND;TZID=Mars/Olympus:20261201T110000',
          'Nowhere',
        ),
        { 'Content-Type': 'text/calendar' },
      );
      assert.equal(unknownZone.status, 403);
      assert.match(await unknownZone.text(), /TZID Mars\/Olympus has no VTIMEZONE/);

      const twoUids = await request(
        'PUT',
        `${path}bad.ics`,
        event('a', '20261201T100000Z', '20261201T110000Z', 'A').replace(
          'END:VCALENDAR',
          'BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR',
        ),
        { 'Content-Type': 'text/calendar' },
      );
      assert.equal(twoUids.status, 403);
      assert.match(await twoUids.text(), /valid-calendar-object-resource/);

      const endsBeforeStart = await request(
        'PUT',
        `${path}bad.ics`,
        event('backwards', '20261201T100000Z', '20261201T090000Z', 'Backwards'),
        { 'Content-Type': 'text/calendar' },
      );
      assert.equal(endsBeforeStart.status, 403);
      assert.match(await endsBeforeStart.text(), /ends \(.*\) before it starts/);

      const brokenXml = await request('PROPFIND', path, '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag></d:prop>', {
        Depth: '0',
      });
      assert.equal(brokenXml.status, 400);
      assert.match(await brokenXml.text(), /not well-formed XML/);

      const badRange = await request(
        'REPORT',
        path,
        '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="tomorrow"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
      );
      assert.equal(badRange.status, 400);
      assert.match(await badRange.text(), /time-range start="tomorrow" is not a UTC date-time/);

      assert.equal((await request('GET', `${path}bad.ics`)).status, 404);
      assert.equal((await defaultCalendar()).syncToken, before);
    });

    it('authenticates every request and keeps tenants apart', async () => {
      const wrong = await fetch(`${base}${home}`, {
        method: 'PROPFIND',
        headers: { Authorization: `Basic ${Buffer.from('alice@test.example:nope').toString('base64')}`, Depth: '0' },
      });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic realm="Holdfast"/);
      const anonymous = await fetch(`${base}${home}`, { method: 'PROPFIND', headers: { Depth: '0' } });
      assert.equal(anonymous.status, 401);

      const eve = await request('PROPFIND', home, '', { Depth: '1' }, 'eve@other.example');
      assert.equal(eve.status, 404);
      const eveObject = await request('GET', `${home}calendar/weekly.ics`, undefined, {}, 'eve@other.example');
      assert.equal(eveObject.status, 404);
      const bob = await request('GET', `${home}calendar/weekly.ics`, undefined, {}, 'bob@test.example');
      assert.equal(bob.status, 404);
    });

    it('shares a calendar read-only, then read-write, within the tenant', async () => {
      const directory = await t.node.holdfast.directory.tenant('default');
      const alice = await directory.getPrincipal('alice@test.example');
      const bob = await directory.getPrincipal('bob@test.example');
      const eve = await (await t.node.holdfast.directory.tenant('other')).getPrincipal('eve@other.example');
      const db = t.node.holdfast.store.db;
      await grantCalendar(db, { owner: alice, grantee: bob, calendar: 'calendar', access: 'read' }, Date.now());
      await assert.rejects(
        grantCalendar(db, { owner: alice, grantee: eve, calendar: 'calendar', access: 'read' }, Date.now()),
        /another tenant/,
      );

      const bobDav = await client('bob@test.example');
      const calendars = await bobDav.fetchCalendars();
      const shared = calendars.find((c) => c.displayName === 'Calendar (Alice Liddell)');
      assert.ok(shared, `bob sees alice's calendar: ${calendars.map((c) => c.displayName).join(', ')}`);
      const objects = await bobDav.fetchCalendarObjects({ calendar: shared });
      assert.ok(objects.some((o) => o.data.includes('UID:weekly-sync')));
      const refused = await bobDav.createCalendarObject({
        calendar: shared,
        filename: 'bob.ics',
        iCalString: event('bob-1', '20261126T100000Z', '20261126T110000Z', 'From Bob'),
      });
      assert.equal(refused.status, 403);

      await grantCalendar(db, { owner: alice, grantee: bob, calendar: 'calendar', access: 'write' }, Date.now());
      const allowed = await bobDav.createCalendarObject({
        calendar: shared,
        filename: 'bob.ics',
        iCalString: event('bob-1', '20261126T100000Z', '20261126T110000Z', 'From Bob'),
      });
      assert.equal(allowed.status, 201);
      assert.equal((await request('GET', `${home}calendar/bob.ics`)).status, 200);
    });

    it('answers free-busy queries with busy times only', async () => {
      const dav = await client();
      const calendar = await defaultCalendar();
      const response = await dav.freeBusyQuery({
        url: calendar.url,
        timeRange: { start: '2026-11-01T00:00:00Z', end: '2026-11-30T00:00:00Z' },
      });
      const raw = await request(
        'REPORT',
        new URL(calendar.url).pathname,
        '<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20261101T000000Z" end="20261130T000000Z"/></c:free-busy-query>',
        { Depth: '1' },
      );
      assert.equal(raw.status, 200);
      const text = await raw.text();
      assert.match(text, /BEGIN:VFREEBUSY/);
      assert.match(text, /FREEBUSY;FBTYPE=BUSY:20261103T140000Z\/20261103T150000Z/);
      assert.doesNotMatch(text, /SUMMARY/);
      assert.ok(response);
    });
  });
}
