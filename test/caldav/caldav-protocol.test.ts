// CalDAV at the HTTP level: headers, preconditions and error bodies a client relies on, limits, and
// a fuzz of request bodies (malformed XML and iCalendar must get a 4xx and change nothing, never a 5xx).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DavAuthenticator } from '../../src/protocols/dav/dav-auth.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { event } from '../helpers/calendar-data.ts';

const password = 'Wonderland-42';

describe('CalDAV protocol details', () => {
  let t: TestNode;
  let base: string;
  const calendar = '/dav/calendars/alice@test.example/calendar/';
  const auth = (user = 'alice@test.example', pass = password) =>
    `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const request = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method, body, headers: { Authorization: auth(), ...headers } });
  const syncToken = async () =>
    /<D:sync-token>([^<]+)</.exec(
      await (
        await request(
          'PROPFIND',
          calendar,
          '<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>',
          { Depth: '0' },
        )
      ).text(),
    )?.[1];

  before(async () => {
    t = await startTestNode('sqlite', { toml: '[caldav]\nmax_resource_size = "20KB"\n' });
    base = `http://127.0.0.1:${t.port('http')}`;
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
    await tenant.addPrincipal({ kind: 'user', address: 'mallory@test.example', password });
  });
  after(() => t.stop());

  it('announces CalDAV and scheduling in OPTIONS, without a login', async () => {
    const response = await fetch(`${base}/dav/`, { method: 'OPTIONS' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('dav') ?? '', /calendar-access/);
    assert.match(response.headers.get('dav') ?? '', /calendar-auto-schedule/);
    assert.match(response.headers.get('allow') ?? '', /REPORT/);
    const wellKnown = await fetch(`${base}/.well-known/caldav`, { method: 'PROPFIND', redirect: 'manual' });
    assert.equal(wellKnown.status, 301);
    assert.equal(wellKnown.headers.get('location'), '/dav/');
  });

  it('answers WebDAV methods it does not serve (MOVE, COPY, LOCK) 405 with the ones it does', async () => {
    for (const method of ['MOVE', 'COPY', 'LOCK', 'UNLOCK']) {
      const response = await fetch(`${base}/dav/calendars/alice@test.example/calendar/event.ics`, {
        method,
        headers: { Destination: `${base}/dav/calendars/alice@test.example/other/event.ics` },
      });
      assert.equal(response.status, 405, method);
      assert.match(response.headers.get('allow') ?? '', /\bPUT\b.*\bDELETE\b/);
      assert.match(await response.text(), new RegExp(`^${method} is not supported here`));
    }
  });

  it('leaves unknown properties out when the client prefers minimal answers', async () => {
    const body =
      '<d:propfind xmlns:d="DAV:" xmlns:x="urn:example"><d:prop><d:displayname/><x:unknown/></d:prop></d:propfind>';
    const full = await (await request('PROPFIND', calendar, body, { Depth: '0' })).text();
    assert.match(full, /404 Not Found/);
    const minimal = await request('PROPFIND', calendar, body, { Depth: '0', Prefer: 'return=minimal' });
    assert.equal(minimal.headers.get('preference-applied'), 'return=minimal');
    assert.doesNotMatch(await minimal.text(), /404/);
  });

  it('changes calendar properties all or nothing', async () => {
    const set = (props: string) =>
      request(
        'PROPPATCH',
        calendar,
        `<d:propertyupdate xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/" xmlns:x="urn:example"><d:set><d:prop>${props}</d:prop></d:set></d:propertyupdate>`,
      );
    const ok = await set(
      '<d:displayname>Work</d:displayname><a:calendar-color>#FF8800FF</a:calendar-color><a:calendar-order>3</a:calendar-order>',
    );
    assert.equal(ok.status, 207);
    assert.match(await ok.text(), /200 OK/);
    const refused = await set('<d:displayname>Hijacked</d:displayname><d:getetag>"x"</d:getetag>');
    const text = await refused.text();
    assert.match(text, /<D:getetag\/><\/D:prop><D:status>HTTP\/1.1 403/);
    assert.match(text, /<D:displayname\/><\/D:prop><D:status>HTTP\/1.1 424/);
    const props = await (
      await request(
        'PROPFIND',
        calendar,
        '<d:propfind xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><a:calendar-color/><a:calendar-order/></d:prop></d:propfind>',
        { Depth: '0' },
      )
    ).text();
    assert.match(props, /<D:displayname>Work<\/D:displayname>/);
    assert.match(props, /<A:calendar-color>#FF8800FF<\/A:calendar-color>/);
    assert.match(props, /<A:calendar-order>3<\/A:calendar-order>/);
  });

  it('creates calendars for chosen components and enforces them', async () => {
    const mk = () =>
      request(
        'MKCALENDAR',
        '/dav/calendars/alice@test.example/tasks/',
        '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Tasks</d:displayname><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
      );
    assert.equal((await mk()).status, 201);
    assert.equal((await mk()).status, 405);
    const plainCollection = await request('MKCOL', '/dav/calendars/alice@test.example/folder/', '');
    assert.equal(plainCollection.status, 403);
    const wrongKind = await request(
      'PUT',
      '/dav/calendars/alice@test.example/tasks/e.ics',
      event('kind-1', '20261201T100000Z', '20261201T110000Z', 'An event'),
      { 'Content-Type': 'text/calendar' },
    );
    assert.equal(wrongKind.status, 403);
    assert.match(await wrongKind.text(), /supported-calendar-component.*holds VTODO only, not VEVENT/s);
    const reserved = await request('MKCALENDAR', '/dav/calendars/alice@test.example/inbox/', '');
    assert.equal(reserved.status, 405);
  });

  it('keeps tasks and finds them by due date', async () => {
    const task = (uid: string, due: string | undefined, summary: string) =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Holdfast tests//EN',
        'BEGIN:VTODO',
        `UID:${uid}`,
        'DTSTAMP:20261101T000000Z',
        ...(due ? [`DUE:${due}`] : []),
        `SUMMARY:${summary}`,
        'END:VTODO',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    const tasks = '/dav/calendars/alice@test.example/tasks/';
    assert.equal(
      (
        await request('PUT', `${tasks}report.ics`, task('task-report', '20261204T170000Z', 'Send the report'), {
          'Content-Type': 'text/calendar',
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await request('PUT', `${tasks}later.ics`, task('task-later', '20270301T170000Z', 'Plan the spring'), {
          'Content-Type': 'text/calendar',
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await request('PUT', `${tasks}someday.ics`, task('task-someday', undefined, 'Someday'), {
          'Content-Type': 'text/calendar',
        })
      ).status,
      201,
    );
    const found = await request(
      'REPORT',
      tasks,
      '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"><c:time-range start="20261201T000000Z" end="20261231T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
      { Depth: '1' },
    );
    const names = [...(await found.text()).matchAll(/tasks\/([a-z]+)\.ics/g)].map((m) => m[1]).sort();
    // A task without dates matches every range (RFC 4791 §9.9).
    assert.deepEqual(names, ['report', 'someday']);
    const open = await request(
      'REPORT',
      tasks,
      '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"><c:is-not-defined/></c:prop-filter><c:prop-filter name="SUMMARY"><c:text-match>SPRING</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
      { Depth: '1' },
    );
    assert.deepEqual(
      [...(await open.text()).matchAll(/tasks\/([a-z]+)\.ics/g)].map((m) => m[1]),
      ['later'],
    );
  });

  it('exports a whole calendar as one iCalendar file, each time zone once', async () => {
    const berlin = (uid: string, day: string) =>
      event(
        uid,
        `DTSTART;TZID=Europe/Berlin:202612${day}T100000`,
        `DTEND;TZID=Europe/Berlin:202612${day}T110000`,
        `Export ${uid}`,
      ).replace(
        'BEGIN:VEVENT',
        'BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT',
      );
    await request('MKCALENDAR', '/dav/calendars/alice@test.example/export/', '');
    for (const [uid, day] of [
      ['x1', '07'],
      ['x2', '08'],
    ])
      assert.equal(
        (
          await request('PUT', `/dav/calendars/alice@test.example/export/${uid}.ics`, berlin(uid!, day!), {
            'Content-Type': 'text/calendar',
          })
        ).status,
        201,
      );
    const response = await request('GET', '/dav/calendars/alice@test.example/export/');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/calendar/);
    const text = await response.text();
    assert.match(text, /^BEGIN:VCALENDAR\r\n/);
    assert.match(text, /X-WR-CALNAME:export/);
    assert.equal(text.match(/BEGIN:VTIMEZONE/g)?.length, 1);
    assert.equal(text.match(/BEGIN:VEVENT/g)?.length, 2);
  });

  it('refuses a second object with the same UID, oversized objects and deep nesting', async () => {
    assert.equal(
      (
        await request('PUT', `${calendar}one.ics`, event('same-uid', '20261201T100000Z', '20261201T110000Z', 'One'), {
          'Content-Type': 'text/calendar',
        })
      ).status,
      201,
    );
    const twin = await request(
      'PUT',
      `${calendar}two.ics`,
      event('same-uid', '20261201T100000Z', '20261201T110000Z', 'Two'),
      { 'Content-Type': 'text/calendar' },
    );
    assert.equal(twin.status, 409);
    const twinError = await twin.text();
    assert.match(twinError, /no-uid-conflict.*UID same-uid is already used by one\.ics/s);
    // RFC 4791 5.3.2.1: the precondition names the resource that has the UID.
    assert.match(
      twinError,
      /<C:no-uid-conflict><D:href>\/dav\/calendars\/alice@test\.example\/calendar\/one\.ics<\/D:href><\/C:no-uid-conflict>/,
    );

    const big = await request(
      'PUT',
      `${calendar}big.ics`,
      event('big', '20261201T100000Z', '20261201T110000Z', 'Big', [`DESCRIPTION:${'x'.repeat(30_000)}`]),
      { 'Content-Type': 'text/calendar' },
    );
    assert.equal(big.status, 403);
    assert.match(await big.text(), /max-resource-size/);
    const huge = await request('PUT', `${calendar}huge.ics`, 'x'.repeat(2_000_000), {
      'Content-Type': 'text/calendar',
    });
    assert.equal(huge.status, 413);
    assert.match(await huge.text(), /larger than/);

    const deepXml = await request(
      'PROPFIND',
      calendar,
      `<d:propfind xmlns:d="DAV:">${'<d:prop>'.repeat(100)}${'</d:prop>'.repeat(100)}</d:propfind>`,
      { Depth: '0' },
    );
    assert.equal(deepXml.status, 400);
    assert.match(await deepXml.text(), /nests elements more than 32 levels/);
    const nested = event('deep', '20261201T100000Z', '20261201T110000Z', 'Deep').replace(
      'END:VEVENT',
      `${'BEGIN:VALARM\r\n'.repeat(50)}${'END:VALARM\r\n'.repeat(50)}END:VEVENT`,
    );
    const deepIcal = await request('PUT', `${calendar}deep.ics`, nested, { 'Content-Type': 'text/calendar' });
    assert.equal(deepIcal.status, 403);
    assert.match(await deepIcal.text(), /nested \d+ levels deep/);

    const notCalendar = await request('PUT', `${calendar}json.ics`, '{}', { 'Content-Type': 'application/json' });
    assert.equal(notCalendar.status, 415);
  });

  it('limits failed logins and says so', async () => {
    for (let i = 0; i < 5; i++)
      assert.equal(
        (
          await fetch(`${base}${calendar}`, {
            method: 'PROPFIND',
            headers: { Authorization: auth('mallory@test.example', `wrong-${i}`) },
          })
        ).status,
        401,
      );
    const limited = await fetch(`${base}${calendar}`, {
      method: 'PROPFIND',
      headers: { Authorization: auth('mallory@test.example', password) },
    });
    assert.equal(limited.status, 429);
    assert.ok(
      Number(limited.headers.get('retry-after')) > 50 && Number(limited.headers.get('retry-after')) <= 60,
      'the first wait is a minute',
    );
    assert.match(await limited.text(), /Too many failed sign-ins; try again in \d+ seconds/);
    // Others are not affected.
    assert.equal((await request('PROPFIND', calendar, '', { Depth: '0' })).status, 207);
  });

  it('accepts passwords over plain HTTP from loopback only, unless configured', async () => {
    const { directory, logins } = t.node.holdfast;
    const strict = new DavAuthenticator(directory, logins, { plaintextLogin: false, httpsPort: 443 });
    const remote = await strict.authenticate({ authorization: auth(), remoteAddress: '203.0.113.7', secure: false });
    assert.deepEqual(remote.ok ? 'accepted' : [remote.status, remote.message], [
      403,
      'Passwords are not accepted over plain HTTP from 203.0.113.7: use HTTPS (port 443), or set [http] plaintext_login = true behind a TLS-terminating proxy',
    ]);
    assert.ok((await strict.authenticate({ authorization: auth(), remoteAddress: '203.0.113.7', secure: true })).ok);
    assert.ok(
      (await strict.authenticate({ authorization: auth(), remoteAddress: '::ffff:127.0.0.1', secure: false })).ok,
    );
    const proxied = new DavAuthenticator(directory, logins, { plaintextLogin: true, httpsPort: 443 });
    assert.ok((await proxied.authenticate({ authorization: auth(), remoteAddress: '203.0.113.7', secure: false })).ok);
  });

  it('answers mutated request bodies with 4xx, never 5xx, and changes nothing', async () => {
    const before = await syncToken();
    const seeds: [string, string, string][] = [
      [
        'PROPFIND',
        calendar,
        '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop></d:propfind>',
      ],
      [
        'REPORT',
        calendar,
        '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data><c:expand start="20261101T000000Z" end="20261201T000000Z"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20261101T000000Z" end="20261201T000000Z"/><c:prop-filter name="SUMMARY"><c:text-match collation="i;ascii-casemap">x</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
      ],
      [
        'REPORT',
        calendar,
        '<d:sync-collection xmlns:d="DAV:"><d:sync-token>http://holdfast.invalid/ns/sync/1</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>',
      ],
      [
        'PROPPATCH',
        '/dav/calendars/alice@test.example/tasks/',
        '<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Tasks</d:displayname></d:prop></d:set></d:propertyupdate>',
      ],
      [
        'PUT',
        `${calendar}fuzz.ics`,
        event(
          'fuzz',
          'DTSTART;TZID=Europe/Berlin:20261201T100000',
          'DTEND;TZID=Europe/Berlin:20261201T110000',
          'Fuzz',
          ['RRULE:FREQ=DAILY;COUNT=3', 'EXDATE;TZID=Europe/Berlin:20261202T100000'],
        ),
      ],
    ];
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = '<>/"=:;\r\n -TZ0123456789{}&#x;[]';
    const mutate = (text: string) => {
      const chars = [...text];
      for (let k = 1 + random(4); k > 0; k--) {
        const at = random(chars.length);
        const kind = random(3);
        if (kind === 0) chars.splice(at, 1 + random(8));
        else if (kind === 1) chars.splice(at, 0, alphabet[random(alphabet.length)]!);
        else chars[at] = alphabet[random(alphabet.length)]!;
      }
      return chars.join('');
    };
    let answered = 0;
    for (let i = 0; i < 400; i++) {
      const [method, path, body] = seeds[i % seeds.length]!;
      // PUTs go to fresh names so that an accepted mutation never replaces anything.
      const target = method === 'PUT' ? path.replace('fuzz.ics', `fuzz-${i}.ics`) : path;
      const mutated = mutate(body);
      const response = await request(method, target, mutated, {
        Depth: '1',
        'Content-Type': method === 'PUT' ? 'text/calendar' : 'application/xml',
      });
      await response.arrayBuffer();
      assert.ok(response.status < 500, `${method} got ${response.status} for ${JSON.stringify(mutated)}`);
      answered++;
    }
    assert.equal(answered, 400);
    // Rejected PUTs left no trace: every change since is a stored, valid object.
    const changes = await request(
      'REPORT',
      calendar,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${before}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
    );
    const hrefs = [...(await changes.text()).matchAll(/<D:href>([^<]+)<\/D:href>/g)].map((m) => m[1]!);
    for (const href of hrefs) assert.equal((await request('GET', href)).status, 200, `${href} is readable`);
  });
});
