// The web app's settings (docs/webmail.md) in Chromium: sessions listed and signed out elsewhere,
// app tokens made (with the password), used with JMAP and revoked, automatic replies answering mail,
// the signature below a new message and in the mail sent, and the password changed — the current
// one checked, the new one in force over IMAP and JMAP, the old one refused (no cached sign-in
// lets it in), other web sessions ended and this one kept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import {
  cookieHeader,
  imapSubjects,
  password,
  signIn,
  skipWithoutChromium,
  startWebApp,
  statusShows,
  type WebApp,
} from './web-app-harness.ts';

describe('the web app settings in Chromium', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let t: TestNode;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let other: { context: BrowserContext; page: Page };
  const dave = 'dave@test.example';
  const newPassword = 'Marmalade-Sky-1977';

  const jmapWith = (authorization: string) =>
    fetch(`${base}/.well-known/jmap`, { headers: { Authorization: authorization } }).then((r) => r.status);
  const basic = (pass: string) => `Basic ${Buffer.from(`${dave}:${pass}`).toString('base64')}`;
  const sessionStatus = async (c: BrowserContext) =>
    (await fetch(`${base}/mail/api/session`, { headers: { Cookie: await cookieHeader(c, base) } })).status;
  const section = (title: string) => page.locator('section.settings-section', { hasText: title });
  const openSettings = async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
  };
  const backToMail = async () => {
    await page.getByRole('button', { name: 'Back to mail' }).click();
    await page.locator('.folders .folder', { hasText: 'Inbox' }).waitFor();
  };

  before(async () => {
    app = await startWebApp([{ address: dave, displayName: 'Dave' }, { address: 'erin@test.example' }]);
    ({ t, base } = app);
    ({ context, page } = await app.newPage());
    other = await app.newPage();
    await signIn(page, base, dave);
    await signIn(other.page, base, dave);
  });
  after(async () => {
    await app?.stop();
  });

  it('lists the web sessions and signs out one elsewhere, then all others', async () => {
    await openSettings();
    const sessions = section('Sessions');
    await sessions.locator('.settings-list li').nth(1).waitFor();
    assert.equal(await sessions.locator('.settings-list li').count(), 2);
    await sessions.locator('li.current', { hasText: 'this session' }).waitFor();
    await sessions
      .locator('li:not(.current)')
      .getByRole('button', { name: /^Sign out the session/ })
      .click();
    await sessions.getByRole('status').filter({ hasText: 'Signed out that session' }).waitFor();
    assert.equal(await sessions.locator('.settings-list li').count(), 1);
    assert.equal(await sessionStatus(other.context), 401, 'the other browser is signed out');
    assert.equal(await sessionStatus(context), 200, 'this one is not');

    await signIn(other.page, base, dave);
    await page.reload();
    await openSettings();
    await section('Sessions').locator('.settings-list li').nth(1).waitFor();
    await section('Sessions').getByRole('button', { name: 'Sign out everywhere else' }).click();
    await section('Sessions').getByRole('status').filter({ hasText: 'Signed out 1 other session' }).waitFor();
    assert.equal(await sessionStatus(other.context), 401);
    assert.equal(await sessionStatus(context), 200);
  });

  it('makes an app token with the password, which opens JMAP until it is revoked', async () => {
    const tokens = section('App tokens');
    await tokens.getByText('No app tokens.').waitFor();
    await tokens.getByLabel('Token name').fill('phone');
    await tokens.getByLabel('Your password').fill('not-my-password');
    await tokens.getByRole('button', { name: 'Make token' }).click();
    await tokens.getByRole('alert').filter({ hasText: 'The current password is wrong' }).waitFor();

    await tokens.getByLabel('Your password').fill(password);
    await tokens.getByRole('button', { name: 'Make token' }).click();
    const shown = tokens.locator('.new-token code');
    await shown.waitFor();
    const token = (await shown.textContent())!;
    assert.match(token, /^hf_/);
    await tokens.locator('.settings-list li', { hasText: 'phone' }).waitFor();
    assert.equal(await jmapWith(`Bearer ${token}`), 200, 'the token opens JMAP');
    const listed = await app.t.node.holdfast.store.db.selectFrom('api_tokens').select(['name', 'scope']).execute();
    assert.deepEqual(listed, [{ name: 'phone', scope: 'jmap' }]);

    await tokens.getByRole('button', { name: 'Revoke phone' }).click();
    await tokens.getByText('No app tokens.').waitFor();
    assert.equal(await jmapWith(`Bearer ${token}`), 401, 'refused once revoked');
  });

  it('refuses the settings API without the CSRF header or from another origin', async () => {
    const cookie = await cookieHeader(context, base);
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${base}/mail/api/${path}`, {
        method: 'POST',
        headers: { Cookie: cookie, 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'x', password, currentPassword: password, newPassword }),
      });
    assert.equal((await post('tokens', {})).status, 403);
    assert.equal((await post('password', { 'X-Holdfast-CSRF': 'wrong' })).status, 403);
    const { csrfToken } = (await (await fetch(`${base}/mail/api/session`, { headers: { Cookie: cookie } })).json()) as {
      csrfToken: string;
    };
    assert.equal(
      (await post('sessions/sign-out-others', { 'X-Holdfast-CSRF': csrfToken, Origin: 'http://evil.example' })).status,
      403,
    );
    assert.equal((await fetch(`${base}/mail/api/tokens`)).status, 401, 'not signed in');
  });

  it('turns automatic replies on, and mail to the user is answered', async () => {
    const vacation = section('Automatic replies');
    await vacation.getByLabel('Reply automatically').check();
    await vacation.getByLabel('Subject').fill('Away until Monday');
    await vacation.getByLabel('Reply', { exact: true }).fill('I am hiking. Back on Monday.');
    await vacation.getByRole('button', { name: 'Save automatic replies' }).click();
    await vacation.getByRole('status').filter({ hasText: 'Automatic replies are on' }).waitFor();

    await submission(t.port('submissions'), 'erin@test.example', password).sendMail({
      from: 'erin@test.example',
      to: dave,
      subject: 'Are you around?',
      text: 'Coffee?',
    });
    await t.waitFor(
      async () => (await imapSubjects(t, 'erin@test.example', 'INBOX')).includes('Away until Monday'),
      'the automatic reply in erin@test.example INBOX',
      30_000,
    );
    const [reply] = await t.mailbox('erin@test.example');
    assert.match(reply!.text, /I am hiking\. Back on Monday\./);

    await page.reload();
    await openSettings();
    assert.equal(await section('Automatic replies').getByLabel('Reply automatically').isChecked(), true);
    await section('Automatic replies').getByLabel('Reply automatically').uncheck();
    await section('Automatic replies').getByRole('button', { name: 'Save automatic replies' }).click();
    await section('Automatic replies').getByRole('status').filter({ hasText: 'Automatic replies are off' }).waitFor();
  });

  it('keeps a signature that new messages start with and carry', async () => {
    const signature = section('Signature');
    await signature.locator('textarea').fill('Dave Example\nHoldfast tests');
    await signature.getByRole('button', { name: 'Save signature' }).click();
    await signature.getByRole('status').filter({ hasText: 'Signature saved' }).waitFor();
    await backToMail();
    await page.getByRole('button', { name: 'New message' }).click();
    const compose = page.locator('form.compose');
    assert.equal(await compose.locator('textarea').inputValue(), '\n\n-- \nDave Example\nHoldfast tests');
    await compose.locator('input[name=to]').fill('erin@test.example');
    await compose.locator('input[name=subject]').fill('Signed');
    await compose.locator('textarea').press('Control+Home');
    await compose.locator('textarea').pressSequentially('Hello Erin');
    await compose.getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    const received = await t.waitFor(
      async () => (await t.mailbox('erin@test.example')).find((m) => /^Subject: Signed$/m.test(m.text)),
      'the signed message at erin@test.example',
      30_000,
    );
    assert.match(received.text, /Hello Erin\r?\n\r?\n-- \r?\nDave Example\r?\nHoldfast tests/);
  });

  it('changes the password: the current one is checked, other sessions end, this one stays', async () => {
    await signIn(other.page, base, dave);
    assert.equal(await jmapWith(basic(password)), 200, 'signed in with Basic: remembered by the credential cache');
    const imap = imapflowClient(t.port('imaps'), dave, password);
    await imap.connect();
    await imap.logout();

    await openSettings();
    const form = section('Password');
    await form.getByLabel('Current password').fill('Not-The-Password-1');
    await form.getByLabel('New password', { exact: true }).fill(newPassword);
    await form.getByLabel('New password again').fill(newPassword);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'The current password is wrong' }).waitFor();

    await form.getByLabel('Current password').fill(password);
    await form.getByLabel('New password', { exact: true }).fill('password1');
    await form.getByLabel('New password again').fill('password1');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'Password too weak' }).waitFor();
    assert.equal(await jmapWith(basic(password)), 200, 'nothing changed yet');

    await form.getByLabel('New password', { exact: true }).fill(newPassword);
    await form.getByLabel('New password again').fill(newPassword);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();

    const row = await t.node.holdfast.store.db
      .selectFrom('principals')
      .select('password_hash')
      .where('address', '=', dave)
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash!, /^\$scrypt\$ln=15,r=8,p=1\$/, "hashed with the directory's KDF");
    assert.equal(await jmapWith(basic(password)), 401, 'the old password no longer opens JMAP (no cached sign-in)');
    assert.equal(await jmapWith(basic(newPassword)), 200);
    await assert.rejects(async () => {
      const old = imapflowClient(t.port('imaps'), dave, password);
      await old.connect();
    }, 'IMAP refuses the old password');
    assert.deepEqual(await imapSubjects(t, dave, 'Sent', newPassword), ['Signed']);
    assert.equal(await sessionStatus(other.context), 401, 'the other web session ended');
    assert.equal(await sessionStatus(context), 200, 'this one goes on');

    await backToMail();
    await page.locator('.messages .row').first().waitFor();
    await page.reload();
    await page.locator('.folders .folder', { hasText: 'Inbox' }).waitFor();
  });

  it('counts wrong current passwords in the login limiter, as failed sign-ins', async () => {
    await openSettings();
    const form = section('Password');
    const attempt = async (current: string) => {
      await form.getByLabel('Current password').fill(current);
      await form.getByLabel('New password', { exact: true }).fill('Another-Long-Phrase-5');
      await form.getByLabel('New password again').fill('Another-Long-Phrase-5');
      await form.getByRole('button', { name: 'Change password' }).click();
    };
    for (let i = 0; i < 5; i++) {
      await attempt(`Guess-Number-${i}-Wrong`);
      await form.getByRole('alert').filter({ hasText: 'The current password is wrong' }).waitFor();
      await form.getByRole('button', { name: 'Change password' }).and(page.locator(':enabled')).waitFor();
    }
    await attempt(newPassword);
    await form
      .getByRole('alert')
      .filter({ hasText: /try again in \d+ s/ })
      .waitFor();
    assert.equal(await jmapWith(basic(newPassword)), 429, 'JMAP waits too, for the same source and account');
  });
});
