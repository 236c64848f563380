// The web app (docs/webmail.md) in a real browser: Debian's Chromium driven by playwright-core (no
// browser download), against a node started in this process, on loopback. Signing in (the login
// limiter shared with the other protocols), mail arriving over SMTP shown without a reload by push,
// reading, flags, Trash, paging by scrolling, replying and writing (the mail checked over IMAP with
// imapflow), hostile HTML mail that runs nothing and loads nothing remote until allowed, the
// session cookie's rules for JMAP (CSRF header, origin), and signing out.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import {
  folderOf,
  fromOutside as deliver,
  imapSubjects as subjectsOver,
  password,
  rowOf,
  skipWithoutChromium,
  startWebApp,
  type WebApp,
} from './web-app-harness.ts';

const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

/** A stand-in for the remote servers a message's images and links name: it counts what reaches it. */
async function remoteHost(): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(request.url ?? '');
    response.writeHead(200, { 'Content-Type': 'image/gif' });
    response.end(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('the web app in Chromium', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let t: TestNode;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let remote: Awaited<ReturnType<typeof remoteHost>>;
  const dialogs: string[] = [];
  let navigations = 0;

  const row = (subject: string) => rowOf(page, subject);
  const folder = (name: string) => folderOf(page, name);
  const frameDocument = <T>(fn: (doc: Document) => T) =>
    page.evaluate((source) => {
      const doc = (document.querySelector('iframe.message-frame') as HTMLIFrameElement).contentDocument!;
      return new Function('doc', `return (${source})(doc)`)(doc);
    }, fn.toString()) as Promise<T>;
  const sessionCookie = async () => (await context.cookies(base)).find((c) => c.name === 'hf_session');
  const imapSubjects = (address: string, folderName: string) => subjectsOver(t, address, folderName);
  const fromOutside = (message: { subject: string; text?: string; html?: string }) =>
    deliver(t, { to: 'alice@test.example', ...message });

  before(async () => {
    app = await startWebApp([
      { address: 'alice@test.example', displayName: 'Alice' },
      { address: 'bob@test.example', displayName: 'Bob' },
      { address: 'carol@test.example' },
    ]);
    ({ t, base } = app);
    remote = await remoteHost();
    ({ context, page } = await app.newPage());
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
  });
  after(async () => {
    remote?.server.close();
    await app?.stop();
  });

  it('serves the app with a strict Content-Security-Policy and caching headers', async () => {
    const index = await fetch(`${base}/mail/`);
    assert.equal(index.status, 200);
    const csp = index.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    const script = /src="(\/mail\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${base}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type')!, /^text\/javascript/);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal((await fetch(`${base}/mail/assets/../../package.json`)).status, 404);

    const frame = await fetch(`${base}/mail/frame.html`);
    const frameCsp = frame.headers.get('content-security-policy')!;
    assert.match(frameCsp, /sandbox allow-same-origin allow-popups/);
    assert.doesNotMatch(frameCsp, /script-src|allow-scripts/);
    assert.match(frameCsp, /img-src 'self' data:;/);
    const allowed = await fetch(`${base}/mail/frame.html?images=remote`);
    assert.match(allowed.headers.get('content-security-policy')!, /img-src 'self' data: https: http:;/);
  });

  it('sends a browser opening / to the app, and gives other clients the JSON description', async () => {
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/mail/');
    await page.getByLabel('Email address').waitFor();
    const described = await fetch(`${base}/`, { headers: { Accept: 'application/json' } });
    assert.equal(described.status, 200);
    assert.equal(((await described.json()) as { service: string }).service, 'holdfast');
    assert.equal((await fetch(`${base}/`, { redirect: 'manual', headers: { Accept: 'text/html' } })).status, 302);
  });

  it('refuses a wrong password and signs in with the right one, setting an HttpOnly SameSite=Strict cookie', async () => {
    await page.goto(`${base}/mail/`);
    await page.getByLabel('Email address').fill('alice@test.example');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email address or password' }).waitFor();
    assert.equal(await sessionCookie(), undefined);

    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await folder('Inbox').waitFor();
    for (const name of ['Drafts', 'Sent', 'Trash', 'Archive']) await folder(name).waitFor();
    await page.getByText('alice@test.example').waitFor();
    const cookie = (await sessionCookie())!;
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, false, 'plain HTTP on loopback: not Secure (HTTPS sets __Host- and Secure)');
    assert.ok(cookie.value.length >= 43, 'a random id of 32 bytes');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read it');
  });

  it('lets JMAP in with the cookie: changes need the CSRF header, other origins are refused', async () => {
    const cookie = `hf_session=${(await sessionCookie())!.value}`;
    const session = await fetch(`${base}/mail/api/session`, { headers: { Cookie: cookie } });
    const { csrfToken, address } = (await session.json()) as { csrfToken: string; address: string };
    assert.equal(address, 'alice@test.example');
    const jmapSession = await fetch(`${base}/.well-known/jmap`, { headers: { Cookie: cookie } });
    assert.equal(jmapSession.status, 200);
    const accountId = ((await jmapSession.json()) as { primaryAccounts: Record<string, string> }).primaryAccounts[
      'urn:ietf:params:jmap:mail'
    ]!;
    const body = JSON.stringify({ using, methodCalls: [['Mailbox/get', { accountId, ids: null }, 'm']] });
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/jmap/api/`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    const noToken = await post({ Cookie: cookie });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.headers.get('www-authenticate'), null, 'no Basic challenge (no browser prompt)');
    assert.equal((await post({ Cookie: cookie, 'X-Holdfast-CSRF': 'wrong' })).status, 403);
    assert.equal(
      (await post({ Cookie: cookie, 'X-Holdfast-CSRF': csrfToken, Origin: 'http://evil.example' })).status,
      403,
    );
    const ok = await post({ Cookie: cookie, 'X-Holdfast-CSRF': csrfToken, Origin: base });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { methodResponses: [string][] }).methodResponses[0]![0], 'Mailbox/get');
    const unknown = await post({ Cookie: 'hf_session=made-up', 'X-Holdfast-CSRF': 'x' });
    assert.ok([401, 403].includes(unknown.status));
  });

  it('counts failed web sign-ins in the login limiter the other protocols share', async () => {
    const login = (pass: string) =>
      fetch(`${base}/mail/api/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'carol@test.example', password: pass }),
      });
    for (let i = 0; i < 5; i++) assert.equal((await login('wrong')).status, 401);
    const throttled = await login(password);
    assert.equal(throttled.status, 429, 'the right password waits too while the source is throttled');
    assert.ok(Number(throttled.headers.get('retry-after')) > 0);
    const basic = await fetch(`${base}/.well-known/jmap`, {
      headers: { Authorization: `Basic ${Buffer.from(`carol@test.example:${password}`).toString('base64')}` },
    });
    assert.equal(basic.status, 429, 'JMAP with Basic is throttled for the same source and account');
    const formPost = await fetch(`${base}/mail/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `username=alice%40test.example&password=${password}`,
    });
    assert.equal(formPost.status, 415, 'a cross-site form cannot sign in');
  });

  it('shows mail delivered over SMTP without a reload, opens it and marks it read', async () => {
    const before = navigations;
    await submission(t.port('submissions'), 'bob@test.example', password).sendMail({
      from: '"Bob" <bob@test.example>',
      to: 'alice@test.example',
      subject: 'Lunch on Friday',
      text: 'Shall we meet at noon?\nBob',
    });
    await row('Lunch on Friday').waitFor({ timeout: 15_000 });
    assert.equal(navigations, before, 'the page was not reloaded');
    assert.match((await row('Lunch on Friday').getAttribute('class'))!, /unread/);
    await folder('Inbox').filter({ hasText: '1' }).waitFor();

    await row('Lunch on Friday').click();
    await page.locator('.message .subject', { hasText: 'Lunch on Friday' }).waitFor();
    await page.locator('.text-body', { hasText: 'Shall we meet at noon?' }).waitFor();
    await page.locator('.message .from', { hasText: 'bob@test.example' }).waitFor();
    await t.waitFor(
      async () =>
        (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Lunch') && /\\Seen/.test(m.flags)),
      'the message marked \\Seen',
    );
    await page.waitForFunction(() => !document.querySelector('.messages .row.current')?.classList.contains('unread'));
  });

  it('flags and unflags a message', async () => {
    await page.getByRole('button', { name: 'Flag', exact: true }).click();
    await t.waitFor(
      async () => (await t.mailbox('alice@test.example')).find((m) => /\\Flagged/.test(m.flags)),
      'the message flagged',
    );
    await row('Lunch on Friday').locator('.flag').waitFor();
    await page.getByRole('button', { name: 'Unflag' }).click();
    await t.waitFor(
      async () => (await t.mailbox('alice@test.example')).every((m) => !/\\Flagged/.test(m.flags)),
      'the flag removed',
    );
  });

  it('replies, and the reply reaches the sender and is kept in Sent', async () => {
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    const compose = page.locator('form.compose');
    assert.match(await compose.locator('input[name=to]').inputValue(), /bob@test\.example/);
    assert.equal(await compose.locator('input[name=subject]').inputValue(), 'Re: Lunch on Friday');
    assert.match(await compose.locator('textarea').inputValue(), /> Shall we meet at noon\?/);
    await compose.locator('textarea').press('Control+Home');
    await compose.locator('textarea').pressSequentially('Noon works. ');
    await compose.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('status').filter({ hasText: 'Sent' }).waitFor();
    const delivered = await t.waitFor(async () => {
      const subjects = await imapSubjects('bob@test.example', 'INBOX');
      return subjects.includes('Re: Lunch on Friday') && subjects;
    }, 'the reply in bob@test.example INBOX over IMAP');
    assert.ok(delivered);
    const inbox = await t.mailbox('bob@test.example');
    const reply = inbox.find((m) => m.text.includes('Subject: Re: Lunch on Friday'))!;
    assert.match(reply.text, /^From: Alice <alice@test\.example>$/m);
    assert.match(reply.text, /^In-Reply-To: </m);
    assert.match(reply.text, /Noon works\./);
    assert.deepEqual(await imapSubjects('alice@test.example', 'Sent'), ['Re: Lunch on Friday']);
    assert.deepEqual(await imapSubjects('alice@test.example', 'Drafts'), []);
  });

  it('writes a new message', async () => {
    await page.getByRole('button', { name: 'New message' }).click();
    const compose = page.locator('form.compose');
    await compose.locator('input[name=to]').fill('Bob <bob@test.example>');
    await compose.locator('input[name=subject]').fill('Minutes of Monday');
    await compose.locator('textarea').fill('Attached in spirit.');
    await compose.getByRole('button', { name: 'Send' }).click();
    await t.waitFor(
      async () => (await imapSubjects('bob@test.example', 'INBOX')).includes('Minutes of Monday'),
      'the new message in bob@test.example INBOX',
    );
    await folder('Sent').click();
    await row('Minutes of Monday').waitFor();
    await row('Re: Lunch on Friday').waitFor();
    await folder('Inbox').click();
    await row('Lunch on Friday').waitFor();
  });

  it('shows hostile HTML mail without running any of it, and remote images only when allowed', async () => {
    const xss = `${remote.url}/xss`;
    const html = `<html><head><style>.note{color:#123456} body{background:url(${remote.url}/css-background.gif)}</style></head><body>
      <p class="note">Quarterly report</p>
      <script>window.top.__xss='script';fetch('${xss}/script')</script>
      <img src="x" onerror="window.top.__xss='onerror';fetch('${xss}/onerror')">
      <img src="${remote.url}/tracker.gif" alt="tracker">
      <a id="js-link" href="javascript:window.top.__xss='link';fetch('${xss}/link')">click me</a>
      <a id="web-link" href="https://example.org/report">the report</a>
      <svg xmlns="http://www.w3.org/2000/svg" onload="window.top.__xss='svg';fetch('${xss}/svg')"><script>window.top.__xss='svg-script'</script><circle r="4"/></svg>
      <svg><a xlink:href="javascript:alert('svg-link')"><text y="20">svg link</text></a></svg>
      <iframe src="javascript:alert('iframe')"></iframe>
      <object data="javascript:alert('object')"></object>
      <embed src="javascript:alert('embed')">
      <form action="${xss}/form"><input name="q" autofocus onfocus="alert('autofocus')"><button>go</button></form>
      <math><mtext><table><mglyph><style><img src=x onerror="alert('mxss')"></style></mglyph></table></mtext></math>
      <noscript><p title="</noscript><img src=x onerror=alert('noscript')>"></p></noscript>
      <details open ontoggle="alert('details')"><summary>more</summary></details>
      <div style="background-image:url(${remote.url}/inline-style.gif)">styled</div>
      <meta http-equiv="refresh" content="0;url=${xss}/refresh">
      </body></html>`;
    await fromOutside({ subject: 'Hostile report', html, text: 'Quarterly report' });
    await row('Hostile report').waitFor({ timeout: 15_000 });
    await row('Hostile report').click();
    await page.locator('.remote-notice').waitFor();
    await page.frameLocator('iframe.message-frame').locator('p.note', { hasText: 'Quarterly report' }).waitFor();
    await page.waitForTimeout(1000);

    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
    assert.deepEqual([...remote.hits], [], 'nothing remote was requested, scripts or images');
    const found = await frameDocument((doc) => ({
      scripts: doc.body.querySelectorAll('script, iframe, object, embed, form, input, meta').length,
      handlers: [...doc.querySelectorAll('*')].flatMap((e) =>
        [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName}.${a.name}`),
      ),
      javascriptUrls: [...doc.querySelectorAll('[href], [src], [xlink\\:href]')]
        .map((e) => e.getAttribute('href') ?? e.getAttribute('src') ?? e.getAttribute('xlink:href') ?? '')
        .filter((v) => /javascript:/i.test(v)),
      tracker: doc.querySelector('img[alt=tracker]')?.getAttribute('src') ?? null,
      link: {
        target: doc.querySelector('#web-link')?.getAttribute('target'),
        rel: doc.querySelector('#web-link')?.getAttribute('rel'),
        title: doc.querySelector('#web-link')?.getAttribute('title'),
      },
      jsLink: doc.querySelector('#js-link')?.getAttribute('href') ?? null,
      styled: doc.querySelector('p.note') ? getComputedStyle(doc.querySelector('p.note')!).color : '',
    }));
    assert.equal(found.scripts, 0);
    assert.deepEqual(found.handlers, []);
    assert.deepEqual(found.javascriptUrls, []);
    assert.equal(found.tracker, null, 'the remote image is held back');
    assert.equal(found.jsLink, null);
    assert.deepEqual(found.link, {
      target: '_blank',
      rel: 'noopener noreferrer',
      title: 'https://example.org/report',
    });
    assert.equal(found.styled, 'rgb(18, 52, 86)', "the message's own styles apply");
    const sandbox = await page.locator('iframe.message-frame').getAttribute('sandbox');
    assert.doesNotMatch(sandbox!, /allow-scripts/);

    // Clicking the javascript: link (now without href) does nothing either.
    await page.frameLocator('iframe.message-frame').locator('#js-link').click();
    await page.getByRole('button', { name: 'Show images' }).click();
    await t.waitFor(async () => remote.hits.includes('/tracker.gif'), 'the remote image loaded once allowed');
    await page.waitForTimeout(500);
    assert.deepEqual(dialogs, []);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
    assert.deepEqual(
      remote.hits.filter((h) => h.startsWith('/xss')),
      [],
      'no script ran after allowing images either',
    );
  });

  it('moves a message to Trash', async () => {
    await row('Hostile report').click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await row('Hostile report').waitFor({ state: 'detached' });
    assert.deepEqual(await imapSubjects('alice@test.example', 'Trash'), ['Hostile report']);
    await folder('Trash').click();
    await row('Hostile report').waitFor();
    await folder('Inbox').click();
    await row('Lunch on Friday').waitFor();
  });

  it('loads more of a long folder as the list scrolls', async () => {
    const client = imapflowClient(t.port('imaps'), 'alice@test.example', password);
    await client.connect();
    for (let i = 1; i <= 70; i++) {
      const date = new Date(Date.UTC(2024, 0, 1, 0, i));
      await client.append(
        'Archive',
        `From: bob@test.example\r\nTo: alice@test.example\r\nSubject: archived ${i}\r\nDate: ${date.toUTCString()}\r\n\r\nold ${i}\r\n`,
        ['\\Seen'],
        date,
      );
    }
    await client.logout();
    await folder('Archive').click();
    await row('archived 70').waitFor();
    assert.equal(await page.locator('.messages .row').count(), 50, 'the first page, newest first');
    await page.locator('.messages .sentinel').scrollIntoViewIfNeeded();
    await row('archived 1').waitFor();
    assert.equal(await page.locator('.messages .row').count(), 70);
    const subjects = await page.locator('.messages .row .subject-text').allTextContents();
    assert.equal(subjects[0], 'archived 70');
    assert.equal(subjects.at(-1), 'archived 1');
  });

  it('keeps the page that landed while new mail was read again (the read began before it)', async () => {
    await folder('Inbox').click();
    await folder('Archive').click();
    await row('archived 70').waitFor();
    assert.equal(await page.locator('.messages .row').count(), 50);
    // The order that lost rows: the next page is asked for, new mail makes the app read the loaded
    // part again, the next page lands, then the read lands. The requests are held to make it so.
    const signal = () => {
      let resolve: () => void = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      return { promise, resolve };
    };
    const readAgainAsked = signal();
    const nextPageShown = signal();
    await page.route('**/jmap/api/**', async (route) => {
      const body = route.request().postData() ?? '';
      if (body.includes('"Email/query"') && body.includes('"position":50')) await readAgainAsked.promise;
      if (body.includes('"Email/query"') && body.includes('"position":0')) {
        readAgainAsked.resolve();
        await nextPageShown.promise;
      }
      await route.continue();
    });
    await page.locator('.messages .sentinel').scrollIntoViewIfNeeded();
    const client = imapflowClient(t.port('imaps'), 'alice@test.example', password);
    await client.connect();
    await client.append('INBOX', 'From: bob@test.example\r\nSubject: meanwhile\r\n\r\nnew\r\n');
    await client.logout();
    await row('archived 1').waitFor();
    assert.equal(await page.locator('.messages .row').count(), 70);
    // Every change of the list from now on is watched: it must never show fewer rows, not even for a
    // moment (it used to drop to the first 50 and load the next page again).
    await page.evaluate(() => {
      const w = window as unknown as { fewestRows: number };
      w.fewestRows = Number.POSITIVE_INFINITY;
      new MutationObserver(() => {
        w.fewestRows = Math.min(w.fewestRows, document.querySelectorAll('.messages .row').length);
      }).observe(document.querySelector('.messages')!, { childList: true, subtree: true });
    });
    const readAgain = page.waitForResponse(
      (response) =>
        response.url().includes('/jmap/api/') && (response.request().postData() ?? '').includes('"position":0'),
    );
    nextPageShown.resolve();
    await readAgain;
    await page.waitForTimeout(500);
    assert.equal(await page.locator('.messages .row').count(), 70, 'the page that landed is still there');
    const fewest = await page.evaluate(() => (window as unknown as { fewestRows: number }).fewestRows);
    assert.ok(fewest >= 70, `the list went down to ${fewest} rows meanwhile`);
    await page.unroute('**/jmap/api/**');
  });

  it('signs out: the cookie no longer opens JMAP', async () => {
    const cookie = `hf_session=${(await sessionCookie())!.value}`;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal(await sessionCookie(), undefined);
    const jmap = await fetch(`${base}/.well-known/jmap`, { headers: { Cookie: cookie } });
    assert.equal(jmap.status, 401);
    assert.equal((await fetch(`${base}/mail/api/session`, { headers: { Cookie: cookie } })).status, 401);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });
});
