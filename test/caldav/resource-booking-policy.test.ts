// Rooms and equipment answer invitations by their own settings (docs/calendar.md, "Rooms and
// equipment"; directory/resource-settings.ts): an organizer's CalDAV client stores a meeting and the
// room's answer is in the organizer's calendar at once, with a reply mail saying why for a decline.
// A room with a capacity is offered to room finders and books as before; one allowing conflicts
// takes overlapping meetings; a short booking window and maximum duration decline what lies beyond
// them; a bookers list declines everyone not on it (a group on the list counts its members); a room
// that does not auto-accept leaves the request waiting until a delegate answers in its calendar.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureDefaultCalendar } from '../../src/calendar/calendars.ts';
import { grantCalendar } from '../../src/calendar/calendar-access.ts';
import { listRooms, parseBookers, setResourceSettings } from '../../src/directory/resource-settings.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const day = 86_400_000;
const hour = 3_600_000;

const utc = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function meeting(o: { uid: string; start: number; hours?: number; organizer: string; room: string; rrule?: string }) {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Holdfast tests//EN',
    'BEGIN:VEVENT',
    `UID:${o.uid}`,
    'DTSTAMP:20261101T000000Z',
    'SEQUENCE:0',
    `DTSTART:${utc(o.start)}`,
    `DTEND:${utc(o.start + (o.hours ?? 1) * hour)}`,
    ...(o.rrule ? [`RRULE:${o.rrule}`] : []),
    `SUMMARY:Meeting ${o.uid}`,
    `ORGANIZER:mailto:${o.organizer}`,
    `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${o.organizer}`,
    `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${o.room}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

for (const name of backendNames) {
  describe(`Room and equipment booking policy on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    const soon = Math.ceil((Date.now() + day) / hour) * hour;

    const auth = (user: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const objectUrl = (owner: string, uid: string) => `${base}/dav/calendars/${owner}/calendar/${uid}.ics`;
    const put = (user: string, uid: string, data: string, owner = user) =>
      fetch(objectUrl(owner, uid), {
        method: 'PUT',
        body: data,
        headers: { Authorization: auth(user), 'Content-Type': 'text/calendar' },
      });
    const copyOf = async (user: string, uid: string) => {
      const row = await t.node.holdfast.store.db
        .selectFrom('calendar_objects')
        .innerJoin('calendars', 'calendars.id', 'calendar_objects.calendar_id')
        .innerJoin('principals', 'principals.id', 'calendars.principal_id')
        .select(['calendar_objects.data'])
        .where('principals.address', '=', user)
        .where('calendar_objects.uid', '=', uid)
        .executeTakeFirst();
      return row?.data;
    };
    const partStat = (data: string | undefined, attendee: string) =>
      new RegExp(`ATTENDEE[^\\r\\n]*PARTSTAT=([A-Z-]+)[^\\r\\n]*:mailto:${attendee}`, 'i').exec(
        data?.replace(/\r\n /g, '') ?? '',
      )?.[1];
    /** Books `room` as `organizer` and answers the room's answer as the organizer's calendar shows it. */
    const book = async (
      organizer: string,
      room: string,
      uid: string,
      start: number,
      extra: { hours?: number; rrule?: string } = {},
    ) => {
      const stored = await put(organizer, uid, meeting({ uid, start, organizer, room, ...extra }));
      assert.equal(stored.status, 201);
      return partStat(await copyOf(organizer, uid), room);
    };
    const declineMail = (user: string, uid: string) =>
      t.waitFor(
        async () => (await t.mailbox(user)).find((m) => new RegExp(`Subject: Declined: Meeting ${uid}`).test(m.text)),
        `the decline of ${uid} in ${user}'s inbox`,
      );
    const settle = async (room: string, change: Parameters<typeof setResourceSettings>[2]) => {
      const scope = await t.node.holdfast.directory.tenant('default');
      await setResourceSettings(t.node.holdfast.store.db, await scope.getPrincipal(room), change, Date.now());
    };

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const scope = await t.node.holdfast.directory.tenant('default');
      for (const user of ['alice', 'bob', 'carol'])
        await scope.addPrincipal({ kind: 'user', address: `${user}@test.example`, password, displayName: user });
      await scope.addPrincipal({ kind: 'group', address: 'execs@test.example', displayName: 'Executives' });
      await scope.addGroupMember('execs@test.example', 'carol@test.example');
      for (const [address, displayName] of [
        ['atrium@test.example', 'Atrium'],
        ['hall@test.example', 'Hall'],
        ['huddle@test.example', 'Huddle'],
        ['suite@test.example', 'Executive suite'],
        ['lab@test.example', 'Lab'],
      ] as const)
        await scope.addPrincipal({ kind: 'room', address, displayName });
    });
    after(async () => {
      await t.stop();
    });

    it('lists rooms with their capacity for a room finder, and books a room with a capacity as before', async () => {
      await settle('atrium@test.example', { capacity: 12 });
      await settle('huddle@test.example', { capacity: 4 });
      const { db } = t.node.holdfast.store;
      const tenantId = (await t.node.holdfast.directory.tenant('default')).tenantId;
      const rooms = await listRooms(db, tenantId);
      assert.deepEqual(
        rooms.map((r) => [r.name, r.capacity]),
        [
          ['Atrium', 12],
          ['Executive suite', null],
          ['Hall', null],
          ['Huddle', 4],
          ['Lab', null],
        ],
      );
      assert.deepEqual(
        (await listRooms(db, tenantId, { minCapacity: 6 })).map((r) => r.address),
        ['atrium@test.example'],
      );
      assert.equal(await book('alice@test.example', 'atrium@test.example', 'cap-1', soon), 'ACCEPTED');
      // Conflicts are still declined by default.
      assert.equal(await book('bob@test.example', 'atrium@test.example', 'cap-2', soon + hour / 2), 'DECLINED');
      assert.match((await declineMail('bob@test.example', 'cap-2')).text, /Atrium is already booked from/);
    });

    it('takes overlapping meetings in a room that allows conflicts', async () => {
      await settle('hall@test.example', { allowConflicts: true });
      assert.equal(await book('alice@test.example', 'hall@test.example', 'hall-1', soon), 'ACCEPTED');
      assert.equal(await book('bob@test.example', 'hall@test.example', 'hall-2', soon), 'ACCEPTED');
      assert.ok(await copyOf('hall@test.example', 'hall-1'));
      assert.ok(await copyOf('hall@test.example', 'hall-2'));
    });

    it('declines beyond a short booking window, past a maximum duration, and recurring meetings when refused', async () => {
      await settle('huddle@test.example', { windowDays: 3, maxDurationMinutes: 120, allowRecurring: false });
      assert.equal(await book('alice@test.example', 'huddle@test.example', 'win-1', soon + 5 * day), 'DECLINED');
      assert.match(
        (await declineMail('alice@test.example', 'win-1')).text,
        /Huddle can be booked at most 3 days ahead/,
      );
      assert.equal(await book('alice@test.example', 'huddle@test.example', 'long-1', soon, { hours: 3 }), 'DECLINED');
      assert.match(
        (await declineMail('alice@test.example', 'long-1')).text,
        /Huddle can be booked for at most 2 hours at a time/,
      );
      assert.equal(
        await book('alice@test.example', 'huddle@test.example', 'rec-1', soon, { rrule: 'FREQ=DAILY;COUNT=2' }),
        'DECLINED',
      );
      assert.match(
        (await declineMail('alice@test.example', 'rec-1')).text,
        /Huddle does not accept recurring meetings/,
      );
      assert.equal(await book('alice@test.example', 'huddle@test.example', 'ok-1', soon, { hours: 2 }), 'ACCEPTED');
    });

    it('declines organizers not on its bookers list; a listed group counts its members', async () => {
      await settle('suite@test.example', {
        bookInPolicy: 'list',
        bookers: parseBookers('alice@test.example, execs@test.example'),
      });
      assert.equal(await book('alice@test.example', 'suite@test.example', 'suite-1', soon), 'ACCEPTED');
      assert.equal(await book('carol@test.example', 'suite@test.example', 'suite-2', soon + 2 * hour), 'ACCEPTED');
      assert.equal(await book('bob@test.example', 'suite@test.example', 'suite-3', soon + 4 * hour), 'DECLINED');
      assert.equal(await copyOf('suite@test.example', 'suite-3'), undefined);
      assert.match(
        (await declineMail('bob@test.example', 'suite-3')).text,
        /Executive suite accepts bookings only from/,
      );
    });

    it('leaves a request waiting in a room that does not auto-accept until a delegate answers in its calendar', async () => {
      await settle('lab@test.example', { autoAccept: false, maxDurationMinutes: 60 });
      const { db } = t.node.holdfast.store;
      const scope = await t.node.holdfast.directory.tenant('default');
      const lab = await scope.getPrincipal('lab@test.example');
      await ensureDefaultCalendar(db, lab, Date.now());
      const bob = await scope.getPrincipal('bob@test.example');
      await grantCalendar(db, { owner: lab, grantee: bob, calendar: 'calendar', access: 'write' }, Date.now());

      assert.equal(await book('alice@test.example', 'lab@test.example', 'lab-1', soon), 'NEEDS-ACTION');
      const waiting = await copyOf('lab@test.example', 'lab-1');
      assert.equal(partStat(waiting, 'lab@test.example'), 'NEEDS-ACTION', "the request waits in the lab's calendar");
      // Outside the policy it is still declined at once.
      assert.equal(await book('alice@test.example', 'lab@test.example', 'lab-2', soon, { hours: 2 }), 'DECLINED');

      // Bob, the lab's delegate, accepts in the lab's calendar; the organizer's calendar learns it.
      const accepted = waiting!.replace(
        /PARTSTAT=NEEDS-ACTION(;RSVP=TRUE)?:mailto:lab@test\.example/,
        'PARTSTAT=ACCEPTED:mailto:lab@test.example',
      );
      const answered = await fetch(objectUrl('lab@test.example', 'lab-1'), {
        method: 'PUT',
        body: accepted,
        headers: { Authorization: auth('bob@test.example'), 'Content-Type': 'text/calendar' },
      });
      assert.ok(answered.status === 204 || answered.status === 201, String(answered.status));
      await t.waitFor(
        async () => partStat(await copyOf('alice@test.example', 'lab-1'), 'lab@test.example') === 'ACCEPTED',
        "the lab's acceptance in alice's calendar",
      );
    });
  });
}
