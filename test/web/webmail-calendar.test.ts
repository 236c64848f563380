// The web app's calendar (docs/webmail.md) in Chromium, on SQLite and PostgreSQL, checked as the user
// sees it and, where the server keeps something, over CalDAV with the user's password: events put
// over CalDAV in the week and month views, the time zone setting moving them, a repeating event
// made in the app with one instance changed and another deleted (RECURRENCE-ID, EXDATE), a change
// made elsewhere meanwhile reported rather than overwritten (If-Match), a meeting with a colleague
// and a room (the colleague's free/busy, the room finder, the room's answer at once, the colleague
// accepting in their own session and the organizer seeing it), an invitation answered from the
// mail's reading pane, CalDAV with the session cookie (CSRF header, origin), and hostile event text
// that runs nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { setResourceSettings } from '../../src/directory/resource-settings.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import {
  chromiumPath,
  cookieHeader,
  expectNoSeriousAxeViolations,
  password,
  skipWithoutChromium,
} from './web-app-harness.ts';

const root = join(import.meta.dirname, '..', '..');
const alice = 'alice@test.example';
const bob = 'bob@test.example';
const room = 'boardroom@test.example';
const zone = 'Europe/Berlin';

/** 'YYYY-MM-DD' n days after a day. */
const plusDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
/** The Monday of next week (within the rooms' 180-day booking window). */
function nextMonday(): string {
  const today = new Date().toISOString().slice(0, 10);
  const weekday = (new Date(`${today}T00:00:00Z`).getUTCDay() + 6) % 7;
  return plusDays(today, 7 - weekday);
}
const compact = (day: string) => day.replace(/-/g, '');

for (const backend of backendNames) {
  describe(`the web app's calendar in Chromium (${backend})`, { skip: skipWithoutChromium || skipFor(backend) }, () => {
    let t: TestNode;
    let browser: Browser;
    let base: string;
    const monday = nextMonday();
    const tuesday = plusDays(monday, 1);
    const wednesday = plusDays(monday, 2);
    const thursday = plusDays(monday, 3);
    const friday = plusDays(monday, 4);

    const basic = (address: string) => `Basic ${Buffer.from(`${address}:${password}`).toString('base64')}`;
    const calendarUrl = (address: string) => `${base}/dav/calendars/${encodeURIComponent(address)}/calendar/`;
    /** A CalDAV request with the user's password. */
    const dav = (address: string, method: string, url: string, body?: string, headers: Record<string, string> = {}) =>
      fetch(url, {
        method,
        headers: { Authorization: basic(address), 'Content-Type': 'text/calendar; charset=utf-8', ...headers },
        body,
      });
    const putEvent = async (address: string, uid: string, lines: string[]) => {
      const response = await dav(
        address,
        'PUT',
        `${calendarUrl(address)}${uid}.ics`,
        [
          'BEGIN:VCALENDAR',
          'VERSION:2.0',
          'PRODID:-//test//EN',
          'BEGIN:VEVENT',
          `UID:${uid}`,
          'DTSTAMP:20260101T000000Z',
          ...lines,
          'END:VEVENT',
          'END:VCALENDAR',
          '',
        ].join('\r\n'),
      );
      assert.ok(
        response.status === 201 || response.status === 204,
        `PUT ${uid}: ${response.status} ${await response.text()}`,
      );
    };
    /** Every object of a user's calendar, as stored. */
    const stored = async (address: string): Promise<string[]> => {
      const response = await dav(
        address,
        'REPORT',
        calendarUrl(address),
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>',
        { Depth: '1', 'Content-Type': 'application/xml' },
      );
      const xml = await response.text();
      return [...xml.matchAll(/<(?:\w+:)?calendar-data[^>]*>([\s\S]*?)<\/(?:\w+:)?calendar-data>/g)].map((m) =>
        m[1]!
          .replace(/&#13;/g, '\r')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&')
          .replace(/\r\n[ \t]/g, ''),
      );
    };
    const storedWith = async (address: string, text: string) =>
      (await stored(address)).find((data) => data.includes(text));

    /** A fresh browser profile in Berlin's time zone, signed in, on a calendar URL. */
    const session = async (address: string): Promise<{ context: BrowserContext; page: Page; dialogs: string[] }> => {
      const context = await browser.newContext({
        timezoneId: zone,
        locale: 'en-GB',
        viewport: { width: 1400, height: 1000 },
      });
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      await page.goto(`${base}/mail/`);
      await page.getByLabel('Email address').fill(address);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.folders .folder', { hasText: 'Inbox' }).waitFor();
      return { context, page, dialogs };
    };
    const week = async (page: Page, day = monday) => {
      await page.evaluate((hash) => {
        location.hash = hash;
      }, `#calendar/week/${day}`);
      await page.locator(`.day-column[data-day="${day}"]`).waitFor();
      await page.locator('.calendar-main[aria-busy="false"]').waitFor();
    };
    const eventIn = (page: Page, day: string, text: string) =>
      page.locator(`.day-column[data-day="${day}"] .event`, { hasText: text });
    const editor = (page: Page) => page.locator('.editor');

    before(async () => {
      if (!existsSync(join(root, 'dist', 'webapp', 'index.html')))
        execFileSync(process.execPath, [join(root, 'webapp', 'build.js')], { cwd: root, stdio: 'inherit' });
      t = await startTestNode(backend);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: alice, displayName: 'Alice Archer', password });
      await tenant.addPrincipal({ kind: 'user', address: bob, displayName: 'Bob Baker', password });
      const boardroom = await tenant.addPrincipal({ kind: 'room', address: room, displayName: 'Board room' });
      const quiet = await tenant.addPrincipal({
        kind: 'room',
        address: 'quiet@test.example',
        displayName: 'Quiet room',
      });
      await setResourceSettings(t.node.holdfast.store.db, boardroom, { capacity: 12 }, Date.now());
      await setResourceSettings(t.node.holdfast.store.db, quiet, { capacity: 2 }, Date.now());
      base = `http://127.0.0.1:${t.port('http')}`;
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    after(async () => {
      await browser?.close();
      await t?.stop();
    });

    it('shows events put over CalDAV in the week and month views, and moves them with the time zone setting', async () => {
      await putEvent(alice, 'planning', [
        `DTSTART:${compact(monday)}T090000Z`,
        `DTEND:${compact(monday)}T100000Z`,
        'SUMMARY:Planning review',
        'LOCATION:Room 4',
      ]);
      await putEvent(alice, 'offsite', [
        `DTSTART;VALUE=DATE:${compact(wednesday)}`,
        `DTEND;VALUE=DATE:${compact(thursday)}`,
        'SUMMARY:Company offsite',
      ]);
      const { context, page } = await session(alice);
      // The switch is a link in the bar at the top, reached from the keyboard.
      const link = page.getByRole('navigation', { name: 'Apps' }).getByRole('link', { name: 'Calendar' });
      await link.focus();
      await page.keyboard.press('Enter');
      await page.locator('.calendar h1.range-title').waitFor();
      assert.match(page.url(), /#calendar/);
      await week(page);
      // 09:00 UTC is 10:00 in Berlin; the all-day event is in the all-day row.
      await eventIn(page, monday, 'Planning review').waitFor();
      assert.equal(await eventIn(page, monday, 'Planning review').getAttribute('data-start'), '10:00');
      await page.locator(`.all-day[data-day="${wednesday}"] .event`, { hasText: 'Company offsite' }).waitFor();
      assert.equal(await page.locator(`.day-column .event`, { hasText: 'Company offsite' }).count(), 0);
      await expectNoSeriousAxeViolations(page, 'the week view');

      await page.getByRole('button', { name: 'Month' }).click();
      await page.locator(`.month-day[data-day="${monday}"] .event`, { hasText: 'Planning review' }).waitFor();
      await page.locator(`.month-day[data-day="${wednesday}"] .event`, { hasText: 'Company offsite' }).waitFor();
      assert.match(page.url(), /#calendar\/month\//);
      await page.getByRole('button', { name: 'Day', exact: true }).click();
      await page.locator('.time-grid.days-1').waitFor();

      // Another zone: the same instant reads as New York's clock does.
      await week(page);
      const expected = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'America/New_York',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(`${monday}T09:00:00Z`));
      await page.getByLabel('Time zone').selectOption('America/New_York');
      await page
        .locator(`.day-column[data-day="${monday}"] .event[data-uid="planning"][data-start="${expected}"]`)
        .waitFor();
      // The setting stays after a reload.
      await page.reload();
      await page
        .locator(`.day-column[data-day="${monday}"] .event[data-uid="planning"][data-start="${expected}"]`)
        .waitFor();
      await page.getByLabel('Time zone').selectOption(zone);
      await page.locator(`.day-column[data-day="${monday}"] .event[data-uid="planning"][data-start="10:00"]`).waitFor();
      await context.close();
    });

    it('makes a repeating event, changes one instance and deletes another, and reports a change made elsewhere', async () => {
      const { context, page } = await session(alice);
      await week(page);
      await page.getByRole('button', { name: 'New event', exact: true }).click();
      const form = editor(page);
      await form.getByLabel('Title').fill('Standup');
      await form.locator('input[name="start-day"]').fill(monday);
      await form.locator('input[name="start-time"]').fill('09:00');
      await form.locator('input[name="end-day"]').fill(monday);
      await form.locator('input[name="end-time"]').fill('09:15');
      await form.getByLabel('Repeat', { exact: true }).selectOption('daily');
      await form.getByLabel('Repeat ends').selectOption('count');
      await form.getByLabel('Times').fill('5');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached' });
      for (const day of [monday, tuesday, wednesday, thursday, friday]) await eventIn(page, day, 'Standup').waitFor();
      assert.equal(await page.locator('.day-column .event', { hasText: 'Standup' }).count(), 5);
      const series = await storedWith(alice, 'SUMMARY:Standup');
      assert.match(series ?? '', /RRULE:FREQ=DAILY;COUNT=5/);
      assert.match(series ?? '', /DTSTART;TZID=Europe\/Berlin:\d{8}T090000/);

      // Wednesday's only: an override.
      await eventIn(page, wednesday, 'Standup').click();
      await form.getByLabel('This event only').waitFor();
      assert.ok(await form.getByLabel('This event only').isChecked());
      await form.getByLabel('Title').fill('Standup (late)');
      await form.locator('input[name="start-time"]').fill('11:00');
      await form.locator('input[name="end-time"]').fill('11:15');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached' });
      await page
        .locator(`.day-column[data-day="${wednesday}"] .event[data-start="11:00"]`, { hasText: 'Standup (late)' })
        .waitFor();
      assert.equal(await page.locator('.day-column .event', { hasText: /^09:00Standup$/ }).count(), 4);
      const overridden = await storedWith(alice, 'SUMMARY:Standup (late)');
      assert.match(overridden ?? '', new RegExp(`RECURRENCE-ID;TZID=Europe/Berlin:${compact(wednesday)}T090000`));

      // Thursday's deleted: an EXDATE.
      await eventIn(page, thursday, 'Standup').click();
      await form.getByRole('button', { name: 'Delete this event' }).click();
      await form.waitFor({ state: 'detached' });
      await eventIn(page, thursday, 'Standup').waitFor({ state: 'detached' });
      await eventIn(page, friday, 'Standup').waitFor();
      assert.match(
        (await storedWith(alice, 'SUMMARY:Standup')) ?? '',
        new RegExp(`EXDATE;TZID=Europe/Berlin:${compact(thursday)}T090000`),
      );

      // Friday's opened; meanwhile another client changes the series; saving says so and keeps theirs.
      await eventIn(page, friday, 'Standup').click();
      await form.getByLabel('Title').waitFor();
      await page.waitForFunction(
        () => document.querySelector<HTMLInputElement>('.editor input[name="title"]')?.value === 'Standup',
      );
      const href = await fetchHrefOf(alice, /SUMMARY:Standup(\r|&#13;|\n)/);
      const current = await dav(alice, 'GET', `${base}${href}`);
      const etag = current.headers.get('etag') ?? '';
      const changed = (await current.text()).replace('SUMMARY:Standup\r\n', 'SUMMARY:Standup (renamed elsewhere)\r\n');
      const put = await dav(alice, 'PUT', `${base}${href}`, changed, { 'If-Match': etag });
      assert.equal(put.status, 204, await put.text());
      await form.getByLabel('Title').fill('Standup (mine)');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').filter({ hasText: 'changed elsewhere' }).waitFor();
      assert.ok(await storedWith(alice, 'Standup (renamed elsewhere)'));
      assert.equal(await storedWith(alice, 'Standup (mine)'), undefined);
      await form.getByRole('button', { name: 'Cancel' }).click();
      await context.close();
    });

    /** The path of the object whose data holds `text`. */
    async function fetchHrefOf(address: string, text: RegExp): Promise<string> {
      const response = await dav(
        address,
        'REPORT',
        calendarUrl(address),
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>',
        { Depth: '1', 'Content-Type': 'application/xml' },
      );
      const xml = await response.text();
      for (const m of xml.matchAll(/<(?:\w+:)?response>([\s\S]*?)<\/(?:\w+:)?response>/g))
        if (text.test(m[1]!)) return /<(?:\w+:)?href>([^<]+)</.exec(m[1]!)![1]!;
      throw new Error(`no object holds ${text}`);
    }

    it("makes a meeting with a colleague and a room: free/busy, the room's answer, the colleague accepting in their own session", async () => {
      await putEvent(bob, 'bob-dentist', [
        `DTSTART:${compact(tuesday)}T090000Z`,
        `DTEND:${compact(tuesday)}T100000Z`,
        'SUMMARY:Dentist',
      ]);
      const { context, page } = await session(alice);
      await week(page);
      await page.getByRole('button', { name: 'New event', exact: true }).click();
      const form = editor(page);
      await form.getByLabel('Title').fill('Project kickoff');
      await form.locator('input[name="start-day"]').fill(tuesday);
      await form.locator('input[name="start-time"]').fill('14:00');
      await form.locator('input[name="end-day"]').fill(tuesday);
      await form.locator('input[name="end-time"]').fill('15:00');
      // The colleague, completed from the directory.
      await form.getByLabel('Invite people').fill('bo');
      await form.locator('.suggestion', { hasText: 'Bob Baker' }).click();
      await form.locator(`.attendee[data-address="${bob}"]`).waitFor();
      // Bob's free/busy on that day: busy 10:00–11:00 Berlin time, nothing of what it is.
      const bobRow = form.locator(`.freebusy-row[data-address="${bob}"]`);
      await bobRow.locator('.busy').first().waitFor();
      assert.equal(await bobRow.locator('.busy').count(), 1);
      assert.equal((await bobRow.locator('.busy').textContent())?.trim(), 'Busy 10:00–11:00');
      assert.doesNotMatch((await form.textContent()) ?? '', /Dentist/);
      // The room finder: the tenant's rooms with their capacity and availability for the chosen time.
      await form.getByRole('button', { name: 'Find a room' }).click();
      await form.locator('.room[data-address="quiet@test.example"]', { hasText: '2 seats' }).waitFor();
      // Ten people: only the rooms known to seat them.
      await form.getByLabel('Seats').fill('10');
      await form.getByRole('button', { name: 'Find a room' }).click();
      await form.locator('.room[data-address="quiet@test.example"]').waitFor({ state: 'detached' });
      const boardroom = form.locator(`.room[data-address="${room}"]`);
      await boardroom.locator('.capacity', { hasText: '12 seats' }).waitFor();
      await boardroom.locator('.availability', { hasText: 'Free' }).waitFor();
      await boardroom.getByRole('button', { name: 'Add Board room' }).click();
      await form.locator(`.attendee[data-address="${room}"]`).waitFor();
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached' });

      // The room answered at once; Bob has not yet.
      await eventIn(page, tuesday, 'Project kickoff').click();
      await form.locator(`.attendee[data-address="${room}"] .partstat`, { hasText: 'Accepted' }).waitFor();
      await form.locator(`.attendee[data-address="${bob}"] .partstat`, { hasText: 'No answer yet' }).waitFor();
      await form.getByRole('button', { name: 'Cancel' }).click();

      // Bob, in his own session, finds the invitation on his calendar and accepts it.
      const bobs = await session(bob);
      await week(bobs.page);
      const invitation = eventIn(bobs.page, tuesday, 'Project kickoff');
      await invitation.waitFor();
      assert.match((await invitation.textContent()) ?? '', /\(invitation\)/);
      await invitation.click();
      await editor(bobs.page).getByText(`${alice} invited you.`).waitFor();
      await editor(bobs.page).getByRole('button', { name: 'Accept' }).click();
      await editor(bobs.page).waitFor({ state: 'detached' });
      await bobs.page.locator('.calendar-top .status', { hasText: 'Answered: Accepted' }).waitFor();
      assert.doesNotMatch((await eventIn(bobs.page, tuesday, 'Project kickoff').textContent()) ?? '', /\(invitation\)/);
      await bobs.context.close();

      // Alice sees his answer.
      await t.waitFor(
        async () =>
          /ATTENDEE[^\r\n]*PARTSTAT=ACCEPTED[^\r\n]*:mailto:bob@/i.test(
            (await storedWith(alice, 'Project kickoff')) ?? '',
          ),
        "Bob's answer on Alice's copy",
        15_000,
      );
      await page.reload();
      await eventIn(page, tuesday, 'Project kickoff').click();
      await form.locator(`.attendee[data-address="${bob}"] .partstat`, { hasText: 'Accepted' }).waitFor();
      await form.getByRole('button', { name: 'Cancel' }).click();
      await context.close();
    });

    it('answers an invitation from its mail in the reading pane', async () => {
      const uid = 'budget-review';
      await putEvent(alice, uid, [
        `DTSTART:${compact(thursday)}T130000Z`,
        `DTEND:${compact(thursday)}T140000Z`,
        'SUMMARY:Budget review',
        `ORGANIZER:mailto:${alice}`,
        `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${alice}`,
        `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${bob}`,
      ]);
      const bobs = await session(bob);
      const row = bobs.page.locator('.messages .row', { hasText: 'Budget review' });
      await row.first().waitFor({ timeout: 30_000 });
      await row.first().click();
      const bar = bobs.page.locator('.invitation-bar');
      await bar.getByRole('button', { name: 'Decline' }).click();
      await bar.getByText('You answered: Declined').waitFor();
      await t.waitFor(
        async () => /PARTSTAT=DECLINED[^\r\n]*:mailto:bob@/i.test((await storedWith(alice, 'Budget review')) ?? ''),
        "Bob's decline on Alice's copy",
        15_000,
      );
      await bobs.context.close();
    });

    it('lets CalDAV take the session cookie only with the CSRF header and from its own origin', async () => {
      const { context, page } = await session(alice);
      const cookie = await cookieHeader(context, base);
      const csrf = await page.evaluate(
        async () => (await (await fetch('/mail/api/session')).json()).csrfToken as string,
      );
      const propfind = (headers: Record<string, string>) =>
        fetch(`${base}/dav/calendars/${alice}/`, {
          method: 'PROPFIND',
          headers: { Cookie: cookie, Depth: '0', ...headers },
        });
      const without = await propfind({});
      assert.equal(without.status, 403);
      assert.equal(without.headers.get('www-authenticate'), null, 'no Basic prompt for a refused cookie');
      assert.equal((await propfind({ 'X-Holdfast-CSRF': csrf, Origin: 'https://evil.example' })).status, 403);
      assert.equal((await propfind({ 'X-Holdfast-CSRF': csrf })).status, 207);
      const get = await fetch(`${calendarUrl(alice)}planning.ics`, { headers: { Cookie: cookie } });
      assert.equal(get.status, 200);
      // Directory completion answers the user's tenant only, bounded.
      const people = await page.evaluate(
        async () => (await (await fetch('/mail/api/directory?q=b')).json()).people as { address: string }[],
      );
      assert.deepEqual(people.map((p) => p.address).sort(), [room, bob].sort());
      const found = (q: string) =>
        page.evaluate(
          async (text) =>
            (
              (await (await fetch(`/mail/api/directory?q=${encodeURIComponent(text)}`)).json()).people as {
                address: string;
              }[]
            ).map((p) => p.address),
          q,
        );
      assert.deepEqual(await found('baker'), [bob], 'a word of the name');
      assert.deepEqual(await found('%'), [], 'a wildcard is a character like any other');
      assert.deepEqual(await found('_ob'), []);
      const seats = await page.evaluate(async () => (await fetch('/mail/api/rooms?seats=many')).status);
      assert.equal(seats, 400);
      const tooLong = await page.evaluate(async () => (await fetch(`/mail/api/directory?q=${'x'.repeat(101)}`)).status);
      assert.equal(tooLong, 400);
      await context.close();
    });

    it('shows hostile event text as text and runs none of it', async () => {
      const payload = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2;alert(1)">';
      await putEvent(alice, 'hostile', [
        `DTSTART:${compact(friday)}T120000Z`,
        `DTEND:${compact(friday)}T130000Z`,
        `SUMMARY:${payload}`,
        `DESCRIPTION:${payload}\\n<svg onload="window.__pwned=3">`,
        `LOCATION:<iframe src="javascript:window.__pwned=4">`,
      ]);
      const { context, page, dialogs } = await session(alice);
      await week(page);
      const event = page.locator(`.day-column[data-day="${friday}"] .event[data-uid="hostile"]`);
      await event.waitFor();
      assert.match((await event.textContent()) ?? '', /<script>window.__pwned=1<\/script>/);
      await event.click();
      await page.locator('.editor textarea[name="description"]').waitFor();
      assert.match(await page.locator('.editor textarea[name="description"]').inputValue(), /<svg onload/);
      await page.keyboard.press('Escape');
      await page.getByRole('button', { name: 'Month' }).click();
      await page.locator(`.month-day[data-day="${friday}"] .event[data-uid="hostile"]`).waitFor();
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('.calendar script, .calendar img, .calendar svg, .calendar iframe').count(), 0);
      assert.deepEqual(dialogs, []);
      await context.close();
    });
  });
}
