// The admin center (docs/admin-center.md) in Debian's Chromium, driven by playwright-core, against a
// node started in this process on loopback: its page's headers; a global administrator creates a
// user who then signs in to mail (where only administrators see the link to the admin center); a tenant administrator sees their tenant only and a user is told
// they are not an administrator; a domain's DNS records and their live check (against the DNS stub);
// a deferred message held, released, retried and bounced, and why it waits; message trace; an update posted on a
// service health issue. Pages are used with the keyboard where it matters (search, navigation).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createHash } from 'node:crypto';
import { resourceSettings } from '../../src/directory/resource-settings.ts';
import { holdMessage } from '../../src/filtering/quarantine.ts';
import { adminPassword, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import {
  expectNoSeriousAxeViolations,
  password,
  signIn as signInToMail,
  skipWithoutChromium,
  startWebApp,
  type WebApp,
} from './web-app-harness.ts';

const root = join(import.meta.dirname, '..', '..');
const timeout = 30_000;

/**
 * Waits until the focused element's aria-label, text or name matches: the app moves focus in
 * effects that run after the render a click or key causes, so it is not read at once.
 */
async function expectFocus(page: Page, what: 'aria-label' | 'text' | 'name', expected: string | RegExp, message = '') {
  const pattern =
    typeof expected === 'string' ? `^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : expected.source;
  const read = () =>
    page.evaluate((kind) => {
      const element = document.activeElement;
      if (kind === 'text') return element?.textContent ?? '';
      if (kind === 'name') return (element as HTMLInputElement | null)?.name ?? '';
      return element?.getAttribute('aria-label') ?? '';
    }, what);
  try {
    await page.waitForFunction(
      ([kind, source]) => {
        const element = document.activeElement;
        const value =
          kind === 'text'
            ? element?.textContent
            : kind === 'name'
              ? (element as HTMLInputElement | null)?.name
              : element?.getAttribute('aria-label');
        return new RegExp(source).test(value ?? '');
      },
      [what, pattern] as const,
      { timeout },
    );
  } catch {
    assert.fail(`${message || 'focus'}: the focused element's ${what} is "${await read()}", not ${expected}`);
  }
}

describe('the admin center in Chromium', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let t: TestNode;
  let base: string;

  /** A new browser profile signed in to the admin center as `address`. */
  const signedIn = async (address: string, pass = password): Promise<Page> => {
    const { page } = await app.newPage();
    await page.goto(`${base}/admin/`);
    await page.getByLabel('Email address').fill(address);
    await page.getByLabel('Password').fill(pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return page;
  };
  const row = (page: Page, text: string) => page.locator('table.admin-table tbody tr').filter({ hasText: text });
  const status = (page: Page, text: string | RegExp) =>
    page.getByRole('status').filter({ hasText: text }).first().waitFor({ timeout });

  before(async () => {
    // The admin center's page is part of the build; build when it is missing.
    if (!existsSync(join(root, 'dist', 'webapp', 'admin.html')))
      execFileSync(process.execPath, [join(root, 'webapp', 'build.js')], { cwd: root, stdio: 'inherit' });
    app = await startWebApp([{ address: 'ivan@test.example' }]);
    ({ t, base } = app);
    const { directory } = t.node.holdfast;
    await directory.addTenant({ name: 'acme' });
    const acme = await directory.tenant('acme');
    await acme.addDomain('acme.example');
    await acme.addPrincipal({ kind: 'user', address: 'boss@acme.example', password, role: 'tenant-admin' });
    await acme.addPrincipal({ kind: 'user', address: 'ann@acme.example', password, displayName: 'Ann' });
  });
  after(async () => {
    await app?.stop();
  });

  it('serves /admin/ with the strict policy, no inline script and revalidation', async () => {
    const page = await fetch(`${base}/admin/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    const script = /src="(\/mail\/assets\/admin-[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${base}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  it('lets a global administrator create a user, who then signs in to mail', async () => {
    const page = await signedIn('admin@test.example', adminPassword);
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor({ timeout });
    await row(page, 'ann@acme.example').waitFor({ timeout });
    await page.getByLabel('Email address').fill('dora@test.example');
    await page.getByLabel('Display name').last().fill('Dora');
    await page.getByRole('button', { name: 'Add user' }).click();
    await status(page, 'Added dora@test.example');
    const shown = await page.locator('.password-note code').textContent({ timeout });
    assert.ok(shown && shown.length >= 10, 'the generated password is shown once');
    await row(page, 'dora@test.example').filter({ hasText: 'Dora' }).waitFor({ timeout });

    const { page: mail } = await app.newPage();
    const asked = mail.waitForResponse((r) => r.url().includes('/admin/users/dora'), { timeout });
    await signInToMail(mail, base, 'dora@test.example', shown!);
    // Only administrators are offered the admin center from mail.
    assert.equal((await asked).status(), 403);
    assert.equal(await mail.getByRole('link', { name: 'Admin center' }).count(), 0);
    const { page: operator } = await app.newPage();
    await signInToMail(operator, base, 'admin@test.example', adminPassword);
    await operator.getByRole('link', { name: 'Admin center' }).click();
    await operator.getByRole('heading', { name: 'Users', level: 1 }).waitFor({ timeout });
  });

  it('changes, disables and enables a user, refusing bad input with the field named', async () => {
    const page = await signedIn('admin@test.example', adminPassword);
    // The keyboard: type into the search box and press Enter.
    await page.getByLabel('Search users').fill('ann');
    await page.getByLabel('Search users').press('Enter');
    await page.getByText('Users 1–1 of 1').waitFor({ timeout });
    await page.getByRole('button', { name: 'Manage ann@acme.example' }).click();
    const manage = page.getByRole('region', { name: 'Manage ann@acme.example' });
    await manage.getByLabel('Quota').fill('lots');
    await manage.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').filter({ hasText: 'quota:' }).waitFor({ timeout });
    await manage.getByLabel('Quota').fill('5GB');
    await manage.getByRole('button', { name: 'Save changes' }).click();
    await status(page, 'Saved ann@acme.example');
    await row(page, 'ann@acme.example').filter({ hasText: '5GB' }).waitFor({ timeout });
    await manage.getByRole('button', { name: 'Disable sign-in' }).click();
    await row(page, 'ann@acme.example').filter({ hasText: 'disabled' }).waitFor({ timeout });
    const refused = await fetch(`${base}/mail/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'ann@acme.example', password }),
    });
    assert.equal(refused.status, 401);
    await manage.getByRole('button', { name: 'Enable sign-in' }).click();
    await row(page, 'ann@acme.example').filter({ hasText: 'enabled' }).waitFor({ timeout });
  });

  it('shows a tenant administrator their tenant only, and a user that they are not an administrator', async () => {
    const page = await signedIn('boss@acme.example');
    await row(page, 'ann@acme.example').waitFor({ timeout });
    assert.equal(await row(page, 'ivan@test.example').count(), 0);
    await page.getByText('administrator of acme').waitFor({ timeout });
    assert.equal(await page.getByRole('link', { name: 'Continuity' }).count(), 0, 'global administrators only');
    assert.equal(
      await page.getByRole('combobox', { name: 'Role' }).locator('option', { hasText: 'Global administrator' }).count(),
      0,
    );
    // Navigation with the keyboard.
    await page.getByRole('link', { name: 'Domains' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Domains', level: 1 }).waitFor({ timeout });
    await page.getByRole('button', { name: 'DNS records of acme.example' }).waitFor({ timeout });
    assert.equal(await page.getByRole('button', { name: 'DNS records of test.example' }).count(), 0);

    const user = await signedIn('ivan@test.example');
    await user.getByRole('alert').filter({ hasText: 'ivan@test.example is not an administrator' }).waitFor({ timeout });
  });

  it('adds a group and its members, an alias, a shared mailbox with a grant, and a room', async () => {
    const page = await signedIn('boss@acme.example');
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByText('No groups').waitFor({ timeout });
    await page.getByLabel('Email address').fill('team@acme.example');
    await page.getByRole('button', { name: 'Add group' }).click();
    await status(page, 'Added team@acme.example');
    await page.getByLabel('New member of team@acme.example').fill('ann@acme.example');
    await page.getByRole('button', { name: 'Add member' }).click();
    await status(page, 'Added ann@acme.example to team@acme.example');
    await row(page, 'team@acme.example').locator('ul.members li', { hasText: 'ann@acme.example' }).waitFor({ timeout });
    await page.getByLabel('New member of team@acme.example').fill('nobody@acme.example');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('alert').filter({ hasText: 'nobody@acme.example' }).waitFor({ timeout });

    await page.getByRole('link', { name: 'Aliases' }).click();
    await page.getByLabel('Alias', { exact: true }).fill('crew@acme.example');
    await page.getByLabel('Reaches (address in the same tenant)').fill('team@acme.example');
    await page.getByRole('button', { name: 'Add alias' }).click();
    await status(page, 'crew@acme.example now reaches team@acme.example');
    await row(page, 'crew@acme.example').filter({ hasText: 'team@acme.example' }).waitFor({ timeout });
    assert.equal(
      (await t.node.holdfast.directory.resolveAddress('crew@acme.example'))?.principal.address,
      'team@acme.example',
    );

    await page.getByRole('link', { name: 'Shared mailboxes' }).click();
    await page.getByLabel('Email address').fill('support@acme.example');
    await page.getByLabel('Quota').fill('1GB');
    await page.getByRole('button', { name: 'Add shared mailbox' }).click();
    await status(page, 'Added support@acme.example');
    await page.getByLabel('User to give rights on support@acme.example').fill('ann@acme.example');
    await page.getByRole('combobox', { name: /^Rights/ }).selectOption('send-as');
    await page.getByRole('button', { name: 'Grant' }).click();
    await row(page, 'support@acme.example').getByText('ann@acme.example (send as)').waitFor({ timeout });
    const grants = await t.node.holdfast.directory.tenant('acme').then((s) => s.listGrants('support@acme.example'));
    assert.deepEqual(grants, [
      { mailbox: 'support@acme.example', grantee: 'ann@acme.example', fullAccess: false, sendAs: true },
    ]);

    await page.getByRole('link', { name: 'Rooms and equipment' }).click();
    await page.getByLabel('Email address').fill('board@acme.example');
    await page.getByLabel('Display name').fill('Board room');
    await page.getByLabel('Kind').selectOption('room');
    await page.getByRole('button', { name: 'Add room or equipment' }).click();
    await row(page, 'board@acme.example').filter({ hasText: 'Board room' }).waitFor({ timeout });
  });

  it("shows and edits a room's capacity and booking policy, refusing a bad value with the field named", async () => {
    const page = await signedIn('boss@acme.example');
    await page.getByRole('link', { name: 'Rooms and equipment' }).click();
    const board = row(page, 'board@acme.example');
    await board.getByText('accepts at once · no conflicts · 180 days ahead · at most 24 h').waitFor({ timeout });
    await board.getByRole('button', { name: 'Settings of board@acme.example' }).click();
    const form = page.getByRole('region', { name: 'Settings of board@acme.example' });
    await form.getByLabel('Capacity (people)').waitFor({ timeout });
    await expectFocus(page, 'name', 'capacity');
    await form.getByLabel('Capacity (people)').fill('many');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('alert').filter({ hasText: 'capacity: "many" is not allowed' }).waitFor({ timeout });

    await form.getByLabel('Capacity (people)').fill('10');
    await form.getByLabel('Accept requests at once').selectOption('no');
    await form.getByLabel('Booking window (days)').fill('30');
    await form.getByLabel('Maximum duration (minutes)').fill('120');
    await form.getByLabel('Who may book').selectOption('list');
    await form
      .getByLabel('People and groups who may book (comma-separated)')
      .fill('ann@acme.example, team@acme.example');
    await form.getByText('wait until someone with write access').waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, "admin rooms and equipment, a room's settings");
    await form.getByRole('button', { name: 'Save settings' }).click();
    await status(page, 'Saved the settings of board@acme.example');
    await board
      .getByText(
        'a delegate answers · no conflicts · 30 days ahead · at most 2 h · recurring allowed · only ann@acme.example, team@acme.example',
      )
      .waitFor({ timeout });
    await board.getByRole('cell', { name: '10', exact: true }).waitFor({ timeout });
    const room = await (await t.node.holdfast.directory.tenant('acme')).getPrincipal('board@acme.example');
    const saved = await resourceSettings(t.node.holdfast.store.db, room.id);
    assert.deepEqual(
      [saved.capacity, saved.autoAccept, saved.windowDays, saved.maxDurationMinutes, saved.bookers],
      [10, false, 30, 120, ['ann@acme.example', 'team@acme.example']],
    );
    await form.getByRole('button', { name: 'Close' }).click();
    await form.waitFor({ state: 'hidden', timeout });
    await expectFocus(page, 'aria-label', 'Settings of board@acme.example');
  });

  it('lets a global administrator add tenants and move them between forests; a tenant administrator has no such page', async () => {
    await t.node.holdfast.directory.addForest({ name: 'eu', maxConnections: 40 });
    const page = await signedIn('admin@test.example', adminPassword);
    await page.getByRole('link', { name: 'Tenants and forests' }).click();
    const acme = row(page, 'acme').first();
    await acme.getByRole('rowheader', { name: 'acme', exact: true }).waitFor({ timeout });
    await page.getByLabel('Tenant name').fill('initech');
    await page.getByRole('combobox', { name: /^Resource forest/ }).selectOption('eu');
    await page.getByRole('button', { name: 'Add tenant' }).click();
    await status(page, 'Added the tenant initech in the forest eu');
    await page.getByLabel('Tenant name').fill('bad name');
    await page.getByRole('button', { name: 'Add tenant' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'name: "bad name" is not a valid tenant name' })
      .waitFor({ timeout });

    await acme.getByRole('combobox', { name: /^Forest of acme/ }).selectOption('eu');
    await acme.getByRole('button', { name: 'Move' }).click();
    await status(page, 'Moved acme to the forest eu');
    assert.equal((await t.node.holdfast.directory.getTenant('acme')).forest, 'eu');
    const forests = page.getByRole('region', { name: 'Resource forests' });
    await forests.locator('tr', { hasText: 'eu' }).filter({ hasText: '40' }).waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin tenants and forests');
    await t.node.holdfast.directory.moveTenant('acme', 'default');

    const boss = await signedIn('boss@acme.example');
    await boss.getByRole('link', { name: 'Users' }).waitFor({ timeout });
    assert.equal(await boss.getByRole('link', { name: 'Tenants and forests' }).count(), 0);
  });

  it("releases and deletes held messages of the tenant's own quarantine", async () => {
    const { holdfast } = t.node;
    const hold = async (address: string, subject: string) => {
      const recipient = (await holdfast.directory.resolveAddress(address))!.principal;
      const data = Buffer.from(
        `From: spammer@remote.example\r\nTo: ${address}\r\nSubject: ${subject}\r\n\r\nbuy now\r\n`,
      );
      const hash = createHash('sha256').update(data).digest('hex');
      await holdMessage(
        holdfast.store,
        { hash, size: data.length, data },
        [
          {
            tenantId: recipient.tenantId,
            principalId: recipient.id,
            recipient: address,
            sender: 'spammer@remote.example',
            subject,
            messageId: null,
            prefix: '',
            reason: 'spam',
            detail: 'rspamd: add header, score 9',
            score: 9,
            clientIp: '192.0.2.7',
          },
        ],
        Date.now(),
        86_400_000,
      );
    };
    await hold('ann@acme.example', 'cheap watches');
    await hold('ann@acme.example', 'more watches');
    await hold('ivan@test.example', 'for ivan only');
    const page = await signedIn('boss@acme.example');
    await page.getByRole('link', { name: 'Quarantine' }).click();
    await page.getByText('2 held').waitFor({ timeout });
    assert.equal(await row(page, 'for ivan only').count(), 0, "another tenant's held mail is not shown");
    await row(page, 'cheap watches')
      .getByRole('button', { name: /^Release/ })
      .click();
    await status(page, 'Released cheap watches to ann@acme.example');
    await page.getByText('1 held').waitFor({ timeout });
    const inbox = await t.mailbox('ann@acme.example');
    assert.ok(inbox.some((m) => m.text.includes('Subject: cheap watches')));
    // Delete asks first: Escape leaves the message and gives focus back to its button.
    const remove = row(page, 'more watches').getByRole('button', { name: /^Delete/ });
    await remove.focus();
    await page.keyboard.press('Enter');
    const ask = page.getByRole('dialog', { name: /^Delete message \d+\?$/ });
    await ask.waitFor({ timeout });
    assert.match(
      (await ask.textContent()) ?? '',
      /more watches from spammer@remote\.example to ann@acme\.example is deleted for good/,
    );
    await expectFocus(page, 'text', 'Cancel', 'focus starts on Cancel');
    await page.keyboard.press('Escape');
    await ask.waitFor({ state: 'hidden', timeout });
    await expectFocus(
      page,
      'aria-label',
      (await remove.getAttribute('aria-label')) ?? '',
      'focus is back on the Delete button',
    );
    await page.getByText('1 held').waitFor({ timeout });
    await remove.click();
    await ask.waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin quarantine, the delete confirmation');
    await ask.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Nothing is held').waitFor({ timeout });
  });

  it("shows a domain's DNS records and checks them against DNS", async () => {
    const page = await signedIn('admin@test.example', adminPassword);
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByRole('button', { name: 'DNS records of acme.example' }).click();
    const section = page.getByRole('region', { name: 'DNS records of acme.example' });
    await section.getByText('10 mail.test.example.', { exact: true }).waitFor({ timeout });
    const answer = await fetch(`${base}/admin/domains/acme.example/dns`, {
      headers: { Authorization: `Basic ${Buffer.from(`admin@test.example:${adminPassword}`).toString('base64')}` },
    });
    const { records } = (await answer.json()) as { records: { name: string; type: string; value: string }[] };
    t.dns.zone(records.filter((r) => r.type !== 'MX'));
    await section.getByRole('button', { name: 'Check DNS now' }).click();
    await status(page, '1 of');
    await section.locator('tr.dns-missing').filter({ hasText: 'MX' }).waitFor({ timeout });
    t.dns.zone(records);
    await section.getByRole('button', { name: 'Check DNS now' }).click();
    await status(page, 'Every record is published');
  });

  it('holds, releases, retries and bounces a deferred message, and traces it', async () => {
    // A destination that refuses connections: the message is deferred and waits in the queue.
    t.dns.set('faraway.example', { MX: [{ exchange: 'mx.faraway.example', priority: 10 }] });
    t.dns.set('mx.faraway.example', { A: ['127.0.0.1'] });
    await submission(t.port('submissions'), 'ann@acme.example', password).sendMail({
      from: 'ann@acme.example',
      to: 'zed@faraway.example',
      subject: 'to faraway',
      text: 'hello',
    });
    const page = await signedIn('boss@acme.example');
    await page.getByRole('link', { name: 'Queue' }).click();
    const entry = row(page, 'zed@faraway.example');
    await t.waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return (await entry.filter({ hasText: 'deferred' }).count()) > 0;
      },
      'the message deferred',
      timeout,
    );
    await entry.getByRole('button', { name: /^Hold message/ }).click();
    await entry.filter({ hasText: '(held)' }).waitFor({ timeout });
    await entry.getByRole('button', { name: /^Release message/ }).click();
    await entry.getByRole('button', { name: /^Hold message/ }).waitFor({ timeout });
    await entry.getByRole('button', { name: /^Retry message/ }).click();
    await status(page, /will be retried now/);
    // A global administrator also sees why mail waits, per destination.
    const operator = await signedIn('admin@test.example', adminPassword);
    await operator.getByRole('link', { name: 'Queue' }).click();
    await operator
      .getByRole('region', { name: 'Why mail waits' })
      .locator('tr', { hasText: 'faraway.example' })
      .waitFor({ timeout });
    // Bounce asks first; the dialog is used with the keyboard: Tab from Cancel to Bounce, then Enter.
    await entry.getByRole('button', { name: /^Bounce message/ }).click();
    const confirm = page.getByRole('dialog', { name: /^Bounce message \d+\?$/ });
    await confirm.getByText('This cannot be undone').waitFor({ timeout });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden', timeout });
    await expectFocus(page, 'aria-label', /^Bounce message/, 'focus is back on the Bounce button');
    await entry.getByRole('button', { name: /^Bounce message/ }).click();
    await confirm.waitFor({ timeout });
    await page.keyboard.press('Tab');
    await expectFocus(page, 'text', 'Bounce');
    await page.keyboard.press('Enter');
    await status(page, /bounced/);
    assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), 'BODY', 'focus is kept on the page');
    await page.getByLabel('State').selectOption('failed');
    await page.getByRole('button', { name: 'Show' }).click();
    await row(page, 'zed@faraway.example').filter({ hasText: 'failed' }).waitFor({ timeout });

    await page.getByRole('link', { name: 'Message trace' }).click();
    await page.getByLabel('Recipient').fill('zed@faraway.example');
    await page.getByRole('button', { name: 'Trace' }).click();
    const traced = page.getByRole('article').filter({ hasText: 'to faraway' });
    for (const event of ['received', 'queued', 'held', 'released', 'retry', 'bounced'])
      await traced
        .locator('.timeline li strong', { hasText: new RegExp(`^${event}$`) })
        .first()
        .waitFor({ timeout });
  });

  it('shows service health and posts an update on an issue, and continuity status', async () => {
    const opened = await fetch(`${base}/admin/serviceAnnouncement/issues`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`admin@test.example:${adminPassword}`).toString('base64')}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        service: 'Imap',
        title: 'Slow folder lists',
        impactDescription: 'Some users wait for their folders.',
        message: 'We are looking into it.',
      }),
    });
    assert.equal(opened.status, 201);
    const { id } = (await opened.json()) as { id: string };
    const page = await signedIn('admin@test.example', adminPassword);
    await page.getByRole('link', { name: 'Service health' }).click();
    const issue = page.getByRole('region', { name: `${id}: Slow folder lists` });
    await issue.getByText('We are looking into it.').waitFor({ timeout });
    await issue.getByLabel(`Update for ${id}`).fill('Fixed by restarting the index.');
    await issue.getByLabel('Status').selectOption('serviceRestored');
    await issue.getByRole('button', { name: 'Post update' }).click();
    await status(page, `Update posted on ${id}`);
    await page
      .getByRole('region', { name: `${id}: Slow folder lists` })
      .getByText('Fixed by restarting the index.')
      .waitFor({ timeout });

    await page.getByRole('link', { name: 'Continuity' }).click();
    await page.getByText('No continuity upstream is configured').waitFor({ timeout });
  });

  it('has pages without serious accessibility violations (axe-core), each with what it loaded', async () => {
    const { page } = await app.newPage();
    await page.goto(`${base}/admin/`);
    await page.getByLabel('Email address').waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin center sign-in');
    await page.getByLabel('Email address').fill('admin@test.example');
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(page, 'ann@acme.example').waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin users');
    await page.getByRole('button', { name: 'Manage ann@acme.example' }).click();
    await page.getByRole('button', { name: 'Reset password' }).waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin users, managing a user');
    for (const title of ['Aliases', 'Groups', 'Shared mailboxes', 'Rooms and equipment', 'Quarantine', 'Continuity']) {
      const loaded = page.waitForResponse((r) => r.request().resourceType() === 'fetch', { timeout });
      await page.getByRole('link', { name: title, exact: true }).click();
      await page.getByRole('heading', { name: title, level: 1 }).waitFor({ timeout });
      await loaded;
      await page.waitForTimeout(200);
      await expectNoSeriousAxeViolations(page, `admin ${title}`);
    }
    await page.getByRole('link', { name: 'Domains' }).click();
    await row(page, 'acme.example').first().waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin domains');
    await page.getByRole('button', { name: 'DNS records of acme.example' }).click();
    await page.getByText('10 mail.test.example.', { exact: true }).waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, "admin domains, a domain's DNS records");
    await page.getByRole('link', { name: 'Queue' }).click();
    await page.getByLabel('State').selectOption('failed');
    await page.getByRole('button', { name: 'Show' }).click();
    await row(page, 'zed@faraway.example').waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin queue');
    await page.getByRole('link', { name: 'Message trace' }).click();
    await page.getByLabel('Recipient').fill('zed@faraway.example');
    await page.getByRole('button', { name: 'Trace' }).click();
    await page.getByRole('article').filter({ hasText: 'to faraway' }).waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin message trace');
    await page.getByRole('link', { name: 'Service health' }).click();
    await page.getByText('Slow folder lists').first().waitFor({ timeout });
    await expectNoSeriousAxeViolations(page, 'admin service health');
  });
});
