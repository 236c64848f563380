// The web app's mail features beyond reading and writing (docs/webmail.md) in Chromium, each checked
// as the user sees it and, where the server keeps something, over IMAP (imapflow) or in the store:
// conversations, server-side search, reply all, attachments (download, image preview, forwarded,
// attached when writing), drafts saved as they are written, sending as another identity, moving to
// any folder and undoing moves and deletes, and keyboard shortcuts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import {
  folderOf,
  imapSubjects,
  password,
  rowOf,
  signIn,
  skipWithoutChromium,
  startWebApp,
  statusShows,
  type WebApp,
} from './web-app-harness.ts';

const pixel = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

describe('the web app mail features in Chromium', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let t: TestNode;
  let page: Page;
  const alice = 'alice@test.example';

  const row = (subject: string) => rowOf(page, subject);
  const compose = () => page.locator('form.compose');
  const heading = (subject: string) => page.locator('.message h2.subject', { hasText: subject });
  const fromBob = (message: Record<string, unknown> & { subject: string }) =>
    submission(t.port('submissions'), 'bob@test.example', password).sendMail({
      from: '"Bob" <bob@test.example>',
      to: alice,
      ...message,
    });
  const open = async (subject: string) => {
    await row(subject).click();
    await heading(subject).waitFor();
  };
  /** Waits until a folder over IMAP holds exactly these subjects. */
  const folderHolds = (address: string, folder: string, subjects: string[]) =>
    t.waitFor(
      async () => JSON.stringify((await imapSubjects(t, address, folder)).sort()) === JSON.stringify(subjects.sort()),
      `${address} ${folder} holding ${JSON.stringify(subjects)}`,
      30_000,
    );
  const messageAt = (address: string, subject: string) =>
    t.waitFor(
      async () =>
        (await t.mailbox(address)).find((m) =>
          new RegExp(`^Subject: ${subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').test(m.text),
        ),
      `"${subject}" at ${address}`,
      30_000,
    );

  before(async () => {
    app = await startWebApp([
      { address: alice, displayName: 'Alice' },
      { address: 'bob@test.example', displayName: 'Bob' },
      { address: 'carol@test.example', displayName: 'Carol' },
      { address: 'frank@test.example', displayName: 'Doe, Frank' },
    ]);
    t = app.t;
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'shared', address: 'sales@test.example', displayName: 'Sales' });
    await tenant.grant('sales@test.example', alice, { fullAccess: false, sendAs: true });
    ({ page } = await app.newPage());
    await signIn(page, app.base, alice);
  });
  after(async () => {
    await app?.stop();
  });

  it('shows a conversation as one row, and its messages in the reading pane', async () => {
    await fromBob({ subject: 'Plans for the trip', text: 'Mountains or sea?', messageId: '<trip-1@test.example>' });
    await fromBob({
      subject: 'Re: Plans for the trip',
      text: 'Mountains, I think.',
      messageId: '<trip-2@test.example>',
      inReplyTo: '<trip-1@test.example>',
      references: ['<trip-1@test.example>'],
    });
    await row('Re: Plans for the trip').locator('.thread-size', { hasText: '2' }).waitFor();
    assert.equal(await row('Plans for the trip').count(), 0, 'the older message is in the same row');
    await open('Re: Plans for the trip');
    const thread = page.getByRole('navigation', { name: 'Conversation' });
    await thread.getByText('2 messages in this conversation').waitFor();
    await thread.getByRole('button', { name: /Mountains or sea\?/ }).click();
    await heading('Plans for the trip').waitFor();
    await page.locator('.text-body', { hasText: 'Mountains or sea?' }).waitFor();

    // Deleting acts on the conversation in the folder, and is undone as one.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('.toast').getByText('Moved 2 messages to Trash').waitFor();
    await row('Re: Plans for the trip').waitFor({ state: 'detached' });
    await folderHolds(alice, 'Trash', ['Plans for the trip', 'Re: Plans for the trip']);
    await page.locator('.toast').getByRole('button', { name: 'Undo' }).click();
    await row('Re: Plans for the trip').waitFor();
    await folderHolds(alice, 'Trash', []);
    assert.equal(await row('Plans for the trip').count(), 0);
  });

  it('searches every folder on the server, from the search box reached with /', async () => {
    const client = imapflowClient(t.port('imaps'), alice, password);
    await client.connect();
    await client.append(
      'Archive',
      'From: carol@test.example\r\nTo: alice@test.example\r\nSubject: Quarterly figures\r\n\r\nThe zebra crossing budget.\r\n',
      ['\\Seen'],
    );
    await client.logout();
    await fromBob({ subject: 'Zebra sighting', text: 'At the zoo.' });
    await row('Zebra sighting').waitFor();

    await page.locator('.messages .row').first().focus();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'search');
    await page.keyboard.type('zebra');
    await page.keyboard.press('Enter');
    await page.getByText('Results for “zebra” in all folders').waitFor();
    await row('Quarterly figures').locator('.in-folder', { hasText: 'Archive' }).waitFor();
    await row('Zebra sighting').locator('.in-folder', { hasText: 'Inbox' }).waitFor();
    assert.equal(await page.locator('.messages .row').count(), 2);
    await page.getByRole('button', { name: 'Clear search' }).click();
    await row('Re: Plans for the trip').waitFor();
    assert.equal(await row('Quarterly figures').count(), 0);
  });

  it('replies to all: the sender, and everyone else named but the user', async () => {
    await fromBob({
      subject: 'Team lunch',
      to: [alice, 'carol@test.example'],
      cc: '"Doe, Frank" <frank@test.example>',
      text: 'Thai?',
    });
    await row('Team lunch').waitFor();
    await open('Team lunch');
    await page.getByRole('button', { name: 'Reply all' }).click();
    assert.equal(await compose().locator('input[name=to]').inputValue(), 'Bob <bob@test.example>');
    assert.equal(
      await compose().locator('input[name=cc]').inputValue(),
      'carol@test.example, "Doe, Frank" <frank@test.example>',
      'a name with a comma is quoted, so it stays one address',
    );
    assert.equal(await compose().locator('input[name=subject]').inputValue(), 'Re: Team lunch');
    await compose().getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    const atCarol = await messageAt('carol@test.example', 'Re: Team lunch');
    assert.match(atCarol.text, /^Cc: carol@test\.example, "Doe, Frank" <frank@test\.example>$/m);
    assert.match(atCarol.text, /^To: Bob <bob@test\.example>$/m);
    await messageAt('bob@test.example', 'Re: Team lunch');
    await messageAt('frank@test.example', 'Re: Team lunch');
  });

  it('quotes an HTML-only message as the text it shows', async () => {
    await fromBob({
      subject: 'Menu',
      html: '<style>p{color:red}</style><p>Soup <b>and</b> bread</p><p>Cake<br>Tea</p><script>document.title="x"</script>',
    });
    await row('Menu').waitFor();
    await open('Menu');
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    const body = await compose().locator('textarea').inputValue();
    assert.match(body, /^> Soup and bread\n> Cake\n> Tea$/m);
    assert.doesNotMatch(body, /<p>|<b>|color:red|document\.title/);
    await compose().getByRole('button', { name: 'Discard' }).click();
    await compose().waitFor({ state: 'detached' });
  });

  it('downloads an attachment and previews an image', async () => {
    await fromBob({
      subject: 'Photos',
      text: 'Two files.',
      attachments: [
        { filename: 'photo.png', content: pixel, contentType: 'image/png' },
        { filename: 'notes.txt', content: 'Bring sunscreen.\n', contentType: 'text/plain' },
      ],
    });
    await row('Photos').waitFor();
    await row('Photos').locator('.has-attachment').waitFor();
    await open('Photos');
    const attachments = page.getByRole('list', { name: 'Attachments' });
    const thumbnail = attachments.getByRole('button', { name: 'Preview photo.png' }).locator('img');
    await thumbnail.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('.thumbnail img');
      return !!img && img.complete && img.naturalWidth === 1;
    });
    await attachments.getByRole('button', { name: 'Preview photo.png' }).click();
    const dialog = page.getByRole('dialog', { name: 'Preview of photo.png' });
    await dialog.waitFor();
    await dialog.getByRole('img', { name: 'photo.png' }).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await attachments.getByRole('button', { name: 'Preview photo.png' }).click();
    await dialog.getByRole('button', { name: 'Close preview' }).click();
    await dialog.waitFor({ state: 'detached' });

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      attachments.getByRole('link', { name: /notes\.txt/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    assert.equal(await readFile((await download.path())!, 'utf8'), 'Bring sunscreen.\n');
  });

  it('forwards a message with its attachments', async () => {
    await page.getByRole('button', { name: 'Forward' }).click();
    const files = compose().getByRole('list', { name: 'Attached files' });
    await files.getByText('photo.png').waitFor();
    await files.getByText('notes.txt').waitFor();
    assert.equal(await compose().locator('input[name=subject]').inputValue(), 'Fwd: Photos');
    assert.match(await compose().locator('textarea').inputValue(), /Forwarded message[\s\S]*Two files\./);
    await compose().locator('input[name=to]').fill('carol@test.example');
    await compose().getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    const forwarded = await messageAt('carol@test.example', 'Fwd: Photos');
    assert.match(forwarded.text, /filename="?notes\.txt"?/);
    assert.match(forwarded.text, /filename="?photo\.png"?/);
    assert.ok(
      forwarded.text.includes(Buffer.from('Bring sunscreen.\n').toString('base64')) ||
        /Bring sunscreen\./.test(forwarded.text),
    );
    assert.ok(forwarded.text.includes(pixel.toString('base64').slice(0, 40)), 'the image, byte for byte');
  });

  it('attaches files when writing (uploaded, then sent by blob id)', async () => {
    await page.getByRole('button', { name: 'New message' }).click();
    await compose().locator('input[name=to]').fill('bob@test.example');
    await compose().locator('input[name=subject]').fill('The plan');
    await compose()
      .locator('input[name=files]')
      .setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('Step 1: pack.\n') });
    await compose().getByRole('list', { name: 'Attached files' }).getByText('plan.txt').waitFor();
    await compose().getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    const sent = await messageAt('bob@test.example', 'The plan');
    assert.match(sent.text, /filename="?plan\.txt"?/);
    assert.ok(
      sent.text.includes('Step 1: pack.') || sent.text.includes(Buffer.from('Step 1: pack.\n').toString('base64')),
    );
  });

  it('saves a draft as it is written, replaces it on change and drops it when sent', async () => {
    await page.getByRole('button', { name: 'New message' }).click();
    await compose().locator('input[name=to]').fill('bob@test.example');
    await compose().locator('input[name=subject]').fill('Half a thought');
    await compose().getByRole('status').filter({ hasText: 'Draft saved' }).waitFor();
    await folderHolds(alice, 'Drafts', ['Half a thought']);
    await compose().locator('input[name=subject]').fill('A whole thought');
    await folderHolds(alice, 'Drafts', ['A whole thought']);
    await compose().locator('textarea').fill('Here it is.');
    await compose().getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    await messageAt('bob@test.example', 'A whole thought');
    await folderHolds(alice, 'Drafts', []);
    assert.ok((await imapSubjects(t, alice, 'Sent')).includes('A whole thought'));
  });

  it('keeps a draft left for later, opens it again, and discarding deletes it', async () => {
    await page.getByRole('button', { name: 'New message' }).click();
    await compose().locator('input[name=subject]').fill('Resume me');
    await compose().locator('textarea').fill('To be continued');
    await folderOf(page, 'Drafts').click();
    await row('Resume me').waitFor();
    await open('Resume me');
    await page.getByRole('button', { name: 'Edit draft' }).click();
    assert.equal(await compose().locator('input[name=subject]').inputValue(), 'Resume me');
    assert.match(await compose().locator('textarea').inputValue(), /^To be continued\s*$/);
    await compose().getByRole('button', { name: 'Discard' }).click();
    await statusShows(page, 'Draft discarded');
    await folderHolds(alice, 'Drafts', []);
    await row('Resume me').waitFor({ state: 'detached' });
    await folderOf(page, 'Inbox').click();
    await row('Photos').waitFor();
  });

  it("sends as another identity the user may send as, with that identity's signature", async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    const signatures = page.locator('section.settings-section', { hasText: 'Signature' });
    await signatures.locator('form.signature').nth(1).waitFor();
    const sales = signatures.locator('form.signature', { hasText: 'sales@test.example' });
    await sales.locator('textarea').fill('The sales desk');
    await sales.getByRole('button', { name: 'Save signature for sales@test.example' }).click();
    await sales.getByRole('status').filter({ hasText: 'Signature for Sales <sales@test.example> saved' }).waitFor();
    await page.getByRole('button', { name: 'Back to mail' }).click();
    await row('Photos').waitFor();

    await page.getByRole('button', { name: 'New message' }).click();
    assert.equal(await compose().locator('textarea').inputValue(), '', 'her own identity has no signature');
    await compose().getByLabel('From').selectOption({ label: 'Sales <sales@test.example>' });
    assert.equal(await compose().locator('textarea').inputValue(), '\n\n-- \nThe sales desk');
    await compose().locator('input[name=to]').fill('bob@test.example');
    await compose().locator('input[name=subject]').fill('From the sales desk');
    await compose().getByRole('button', { name: 'Send' }).click();
    await statusShows(page, 'Sent');
    const sent = await messageAt('bob@test.example', 'From the sales desk');
    assert.match(sent.text, /^From: Sales <sales@test\.example>$/m);
    assert.match(sent.text, /-- \r?\nThe sales desk/);
  });

  it('moves a message to any folder, and undoes the move and a delete', async () => {
    const client = imapflowClient(t.port('imaps'), alice, password);
    await client.connect();
    await client.mailboxCreate('Projects');
    await client.logout();
    await open('Zebra sighting');
    const moveTo = page.getByLabel('Move to');
    await moveTo.locator('option', { hasText: 'Projects' }).waitFor({ state: 'attached' });
    await moveTo.selectOption({ label: 'Projects' });
    await row('Zebra sighting').waitFor({ state: 'detached' });
    const toast = page.locator('.toast');
    await toast.getByText('Moved to Projects').waitFor();
    await folderHolds(alice, 'Projects', ['Zebra sighting']);
    await toast.getByRole('button', { name: 'Undo' }).click();
    await row('Zebra sighting').waitFor();
    await folderHolds(alice, 'Projects', []);
    assert.ok((await imapSubjects(t, alice, 'INBOX')).includes('Zebra sighting'));

    await open('Zebra sighting');
    await page.locator('.message .actions').getByRole('button', { name: 'Archive', exact: true }).click();
    await toast.getByText('Moved to Archive').waitFor();
    await folderHolds(alice, 'Archive', ['Quarterly figures', 'Zebra sighting']);
    await toast.getByRole('button', { name: 'Undo' }).click();
    await row('Zebra sighting').waitFor();
    await folderHolds(alice, 'Archive', ['Quarterly figures']);

    await open('Zebra sighting');
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await row('Zebra sighting').waitFor({ state: 'detached' });
    await toast.getByText('Moved to Trash').waitFor();
    await folderHolds(alice, 'Trash', ['Zebra sighting']);
    await toast.getByRole('button', { name: 'Undo' }).click();
    await row('Zebra sighting').waitFor();
    await folderHolds(alice, 'Trash', []);
  });

  it('answers keyboard shortcuts: j/k, r, a, f, c and #', async () => {
    const current = page.locator('.messages .row.current .subject-text');
    await folderOf(page, 'Inbox').click();
    await row('Photos').waitFor();
    const subjects = await page.locator('.messages .row .subject-text').allTextContents();
    const [first, second] = subjects as [string, string];
    await page.keyboard.press('j');
    await current.getByText(first, { exact: true }).waitFor();
    await page.keyboard.press('j');
    await current.getByText(second, { exact: true }).waitFor();
    await page.keyboard.press('k');
    await current.getByText(first, { exact: true }).waitFor();
    await heading(first).waitFor();
    await page.locator('.message .actions').waitFor();

    const reply = /^re:/i.test(first) ? first : `Re: ${first}`;
    for (const [key, subject] of [
      ['r', reply],
      ['a', reply],
      ['f', `Fwd: ${first}`],
    ] as const) {
      await page.keyboard.press(key);
      assert.equal(await compose().locator('input[name=subject]').inputValue(), subject);
      await compose().getByRole('button', { name: 'Discard' }).click();
      await compose().waitFor({ state: 'detached' });
      await row(first).click();
      await heading(first).waitFor();
    }
    await page.keyboard.press('c');
    await compose().waitFor();
    assert.equal(await compose().locator('input[name=subject]').inputValue(), '');
    await compose().getByRole('button', { name: 'Discard' }).click();
    await compose().waitFor({ state: 'detached' });

    await row(first).click();
    await heading(first).waitFor();
    await page.keyboard.press('#');
    await row(first).waitFor({ state: 'detached' });
    await page.locator('.toast').getByText('Moved to Trash').waitFor();
    await t.waitFor(async () => (await imapSubjects(t, alice, 'Trash')).includes(first), `${first} in Trash`, 30_000);
  });
});
