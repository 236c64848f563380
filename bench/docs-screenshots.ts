// The screenshots in docs/web.md: starts a Holdfast server process in a fresh installation (as the
// benches do: loopback only, removed after), adds two users, delivers a few messages from outside over
// SMTP and leaves one of Alice's messages waiting in the queue for a destination that refuses, then
// signs in with Debian's Chromium (headless, 1280x800) and writes a PNG of each main view into
// docs/images/: the mail list with a message open, the composer, the settings, the calendar's week
// (when the app has one), and the admin center's users, queue and service health.
//
//   npm run docs:screenshots
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { chromium, type Page } from 'playwright-core';
import { guarded, withStarted } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';
import { DnsStub } from '../test/helpers/dns-stub.ts';

const images = join(import.meta.dirname, '..', 'docs', 'images');
const password = 'Screenshot-Words-42';
const adminPassword = 'Keep-Mail-Flowing-42'; // bench/lib/holdfast-process.ts's HOLDFAST_ADMIN_PASSWORD
const alice = 'alice@bench.example';
const timeout = 30_000;

const now = Date.now();
const hoursAgo = (h: number) => new Date(now - h * 3_600_000);
const inbox = [
  {
    from: 'Harbour Books <news@harbourbooks.example>',
    subject: 'New this week: twelve books for the long evenings',
    date: hoursAgo(30),
    html: '<h1>New this week</h1><p>Twelve books for the long evenings, from <b>sea stories</b> to cookery.</p><p><a href="https://harbourbooks.example/new">See them all</a></p>',
  },
  {
    from: 'Priya Raman <priya@northwind.example>',
    subject: 'Invoice 2026-118',
    date: hoursAgo(26),
    text: 'Hello Alice,\n\nPlease find the invoice for November attached.\n\nPriya',
    attachments: [
      {
        filename: 'invoice-2026-118.pdf',
        content: Buffer.from('%PDF-1.4\n% stand-in\n'),
        contentType: 'application/pdf',
      },
    ],
  },
  {
    from: 'Jonas Berg <jonas@contoso.example>',
    subject: 'Office move on Friday',
    date: hoursAgo(20),
    messageId: '<move-1@contoso.example>',
    text: 'Hi Alice,\n\nThe movers come on Friday at eight. Could you label the boxes by Thursday?\n\nJonas',
  },
  {
    from: 'Marta Nowak <marta@fabrikam.example>',
    subject: 'Lunch next week?',
    date: hoursAgo(6),
    text: 'Hi Alice,\n\nAre you free for lunch on Tuesday or Wednesday? The new place by the harbour is open.\n\nMarta',
  },
  {
    from: 'Jonas Berg <jonas@contoso.example>',
    subject: 'Re: Office move on Friday',
    date: hoursAgo(3),
    inReplyTo: '<move-1@contoso.example>',
    references: '<move-1@contoso.example>',
    text: 'One more thing: the meeting room keeps its furniture, so leave the chairs.\n\nJonas',
  },
  {
    from: 'Priya Raman <priya@northwind.example>',
    subject: 'Quarterly planning: agenda',
    date: hoursAgo(1),
    text: 'Hi Alice,\n\nHere is the agenda for Thursday:\n\n1. Results of the quarter\n2. Hiring for the spring\n3. The new office\n\nTell me if you would like to add something.\n\nPriya',
  },
];

/** Writes the page as docs/images/NAME.png, made smaller with pngquant (Debian's pngquant) where it is installed. */
async function shoot(page: Page, name: string) {
  await page.waitForTimeout(500); // fonts and the last render
  const file = join(images, `${name}.png`);
  writeFileSync(file, await page.screenshot({ type: 'png' }));
  const quantized = spawnSync('pngquant', ['--quality', '70-95', '--speed', '1', '--force', '--ext', '.png', file]);
  process.stderr.write(
    `wrote docs/images/${name}.png (${Math.round(statSync(file).size / 1024)} KB${quantized.status === 0 ? ', pngquant' : ''})\n`,
  );
}

mkdirSync(images, { recursive: true });
await withInstallation(undefined, async (installation) => {
  installation.cli(['user', 'add', alice, '--password', password, '--name', 'Alice Lindqvist']);
  installation.cli(['user', 'add', 'bob@bench.example', '--password', password, '--name', 'Bob Okafor']);
  installation.cli(['user', 'add', 'carmen@bench.example', '--password', password, '--name', 'Carmen Diaz']);
  await withStarted(
    () => new DnsStub().start(),
    (dns) => dns.stop(),
    async (dns) => {
      // A destination whose MX refuses connections: Alice's message to it waits in the queue.
      dns.set('partner.example', { MX: [{ exchange: 'mx.partner.example', priority: 10 }] });
      dns.set('mx.partner.example', { A: ['127.0.0.1'] });
      const server = await installation.start({
        HOLDFAST_HTTP_PORT: '0',
        HOLDFAST_SUBMISSION_PORT: '0',
        HOLDFAST_DNS_SERVERS: dns.server,
      });
      const mx = nodemailer.createTransport({
        host: '127.0.0.1',
        port: server.port('smtp'),
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      for (const message of inbox) await mx.sendMail({ to: 'Alice Lindqvist <alice@bench.example>', ...message });
      await nodemailer
        .createTransport({
          host: '127.0.0.1',
          port: server.port('submission'),
          secure: false,
          auth: { user: alice, pass: password },
          tls: { rejectUnauthorized: false },
        })
        .sendMail({
          from: 'Alice Lindqvist <alice@bench.example>',
          to: 'orders@partner.example',
          subject: 'Order for December',
          text: 'Hello,\n\nPlease send the usual order.\n\nAlice',
        });
      const base = `http://127.0.0.1:${server.port('http')}`;
      // A few events in this week's calendar (Monday to Sunday, UTC), put over CalDAV.
      const monday = new Date(now);
      monday.setUTCHours(0, 0, 0, 0);
      monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
      const at = (day: number, hour: number, minute = 0) =>
        new Date(monday.getTime() + (day * 24 + hour) * 3_600_000 + minute * 60_000)
          .toISOString()
          .replace(/[-:]|\.\d+/g, '');
      const events = [
        { uid: 'standup', summary: 'Team stand-up', start: at(0, 9), end: at(0, 9, 45), rrule: 'FREQ=DAILY;COUNT=5' },
        { uid: 'lunch', summary: 'Lunch with Marta', start: at(1, 12, 30), end: at(1, 13, 30) },
        { uid: 'planning', summary: 'Quarterly planning', start: at(3, 10), end: at(3, 11, 30) },
        { uid: 'move', summary: 'Office move', start: at(4, 8), end: at(4, 12) },
        { uid: 'review', summary: 'Design review', start: at(2, 14), end: at(2, 15) },
      ];
      for (const event of events) {
        const ics = [
          'BEGIN:VCALENDAR',
          'VERSION:2.0',
          'PRODID:-//Holdfast//docs screenshots//EN',
          'BEGIN:VEVENT',
          `UID:${event.uid}@bench.example`,
          `DTSTAMP:${at(0, 0)}`,
          `DTSTART:${event.start}`,
          `DTEND:${event.end}`,
          `SUMMARY:${event.summary}`,
          ...(event.rrule ? [`RRULE:${event.rrule}`] : []),
          'END:VEVENT',
          'END:VCALENDAR',
          '',
        ].join('\r\n');
        const put = await fetch(`${base}/dav/calendars/${alice}/calendar/${event.uid}.ics`, {
          method: 'PUT',
          headers: {
            Authorization: `Basic ${Buffer.from(`${alice}:${password}`).toString('base64')}`,
            'Content-Type': 'text/calendar; charset=utf-8',
          },
          body: ics,
        });
        if (!put.ok) throw new Error(`PUT ${event.uid}.ics: ${put.status} ${await put.text()}`);
      }
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
      });
      await guarded(
        () => browser.close(),
        async () => {
          const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
          const page = await context.newPage();
          await page.goto(`${base}/`);
          await page.getByLabel('Email address').fill(alice);
          await page.getByLabel('Password').fill(password);
          await page.getByRole('button', { name: 'Sign in' }).click();
          const row = (subject: string) =>
            page
              .locator('.messages .row')
              .filter({ has: page.locator('.subject-text').getByText(subject, { exact: true }) });
          await row('Quarterly planning: agenda').waitFor({ timeout });
          await row('Quarterly planning: agenda').click();
          await page.locator('pre.text-body').waitFor({ timeout });
          await shoot(page, 'mail');

          await page.getByRole('button', { name: 'Reply', exact: true }).click();
          await page.locator('form.compose textarea').first().waitFor({ timeout });
          await page.locator('form.compose textarea').first().press('Control+Home');
          await page.keyboard.type('Thanks, Priya. Could we add the budget for the new office as point 4?\n\nAlice\n');
          await shoot(page, 'compose');
          await page.locator('form.compose').getByRole('button', { name: 'Discard' }).click();

          await page.getByRole('button', { name: 'Settings' }).click();
          await page.getByRole('heading', { name: 'Sessions' }).waitFor({ timeout });
          await shoot(page, 'settings');
          await page.getByRole('button', { name: 'Back to mail' }).click();

          const calendar = page.getByRole('link', { name: 'Calendar', exact: true });
          if ((await calendar.count()) > 0) {
            await calendar.click();
            await page.getByText('Quarterly planning').first().waitFor({ timeout });
            await shoot(page, 'calendar-week');
          } else process.stderr.write('no calendar in the app: no calendar-week.png\n');

          const admin = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
          await admin.goto(`${base}/admin/`);
          await admin.getByLabel('Email address').fill('admin@bench.example');
          await admin.getByLabel('Password').fill(adminPassword);
          await admin.getByRole('button', { name: 'Sign in' }).click();
          await admin.locator('table.admin-table tbody tr', { hasText: alice }).waitFor({ timeout });
          await shoot(admin, 'admin-users');
          await admin.getByRole('link', { name: 'Queue' }).click();
          await admin
            .locator('table.admin-table tbody tr', { hasText: 'orders@partner.example' })
            .first()
            .waitFor({ timeout });
          await shoot(admin, 'admin-queue');
          await admin.getByRole('link', { name: 'Service health' }).click();
          await admin.waitForTimeout(2000);
          await shoot(admin, 'admin-health');
        },
      );
    },
  );
});
