// The web app's views checked with axe-core in Chromium (docs/webmail.md): the sign-in page, a
// folder with a message open (text and HTML, attachments, flagged, a conversation), a search, the
// composer and the settings have no serious or critical accessibility violation.
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { submission } from '../helpers/submission.ts';
import {
  expectNoSeriousAxeViolations,
  folderOf,
  password,
  rowOf,
  signIn,
  skipWithoutChromium,
  startWebApp,
  type WebApp,
} from './web-app-harness.ts';

describe('the web app checked with axe-core in Chromium', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let page: Page;
  const alice = 'alice@test.example';

  before(async () => {
    app = await startWebApp([
      { address: alice, displayName: 'Alice' },
      { address: 'bob@test.example', displayName: 'Bob' },
    ]);
    ({ page } = await app.newPage());
    const send = submission(app.t.port('submissions'), 'bob@test.example', password);
    await send.sendMail({
      from: '"Bob" <bob@test.example>',
      to: alice,
      subject: 'Plans for the trip',
      text: 'The train leaves at nine.\n\nBob',
      attachments: [{ filename: 'tickets.txt', content: 'Seat 42' }],
    });
    await send.sendMail({
      from: '"Bob" <bob@test.example>',
      to: alice,
      subject: 'The menu',
      html: '<h1>Menu</h1><p>Soup, <b>bread</b> and <a href="https://example.com/">cake</a>.</p>',
    });
  });
  after(async () => {
    await app?.stop();
  });

  it('has a sign-in page without serious violations, also when a sign-in fails', async () => {
    await page.goto(`${app.base}/mail/`);
    await page.getByLabel('Email address').waitFor();
    await expectNoSeriousAxeViolations(page, 'sign-in page');
    await page.getByLabel('Email address').fill(alice);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await expectNoSeriousAxeViolations(page, 'sign-in page with an error');
  });

  it('has a mail view without serious violations: a folder, a message open, a search', async () => {
    await signIn(page, app.base, alice);
    await rowOf(page, 'Plans for the trip').waitFor({ timeout: 30_000 });
    await rowOf(page, 'The menu').waitFor({ timeout: 30_000 });
    await expectNoSeriousAxeViolations(page, 'mail list');
    await rowOf(page, 'Plans for the trip').click();
    await page.locator('.message h2.subject', { hasText: 'Plans for the trip' }).waitFor();
    await page.getByRole('button', { name: 'Flag', exact: true }).click();
    await expectNoSeriousAxeViolations(page, 'mail list with a text message and an attachment open');
    await rowOf(page, 'The menu').click();
    await page.locator('iframe.message-frame').waitFor();
    await expectNoSeriousAxeViolations(page, 'mail list with an HTML message open');
    await page.getByRole('searchbox', { name: 'Search mail' }).fill('menu');
    await page.getByRole('searchbox', { name: 'Search mail' }).press('Enter');
    await page.getByText('in all folders').waitFor();
    await expectNoSeriousAxeViolations(page, 'search results');
    await page.getByRole('button', { name: 'Clear search' }).click();
    await folderOf(page, 'Inbox').waitFor();
  });

  it('has a composer without serious violations, new and replying', async () => {
    await page.getByRole('button', { name: 'New message' }).click();
    await page.locator('form.compose').waitFor();
    await expectNoSeriousAxeViolations(page, 'composer');
    await page.locator('form.compose').getByRole('button', { name: 'Discard' }).click();
    await rowOf(page, 'Plans for the trip').click();
    await page.locator('.message h2.subject', { hasText: 'Plans for the trip' }).waitFor();
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    await page.locator('form.compose').waitFor();
    await expectNoSeriousAxeViolations(page, 'composer replying');
    await page.locator('form.compose').getByRole('button', { name: 'Discard' }).click();
  });

  it('has settings without serious violations, with a token made and a message shown', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await expectNoSeriousAxeViolations(page, 'settings');
    const tokens = page.locator('section', { has: page.getByRole('heading', { name: 'App tokens' }) });
    await tokens.getByLabel('Token name').fill('Phone');
    await tokens.getByLabel('Your password').fill(password);
    await tokens.getByRole('button', { name: 'Make token' }).click();
    await tokens.locator('.new-token').waitFor();
    await expectNoSeriousAxeViolations(page, 'settings with a new app token shown');
  });
});
