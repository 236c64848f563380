// What the web app's browser tests share: a node started in the test process on loopback, Debian's
// Chromium driven by playwright-core (no browser download), users, signing in, finding rows and
// folders, and reading a folder back over IMAP with imapflow.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

export const chromiumPath = '/usr/bin/chromium';
/** The suites are skipped, saying so, where Chromium is missing. */
export const skipWithoutChromium = existsSync(chromiumPath) ? false : `no ${chromiumPath}`;
export const password = 'Wonderland-42';
const root = join(import.meta.dirname, '..', '..');

export interface WebApp {
  t: TestNode;
  base: string;
  browser: Browser;
  /** A fresh browser profile (its own cookies) with one page. */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  stop(): Promise<void>;
}

/** Builds the app if it is not built, starts a node with these users (all with `password`) and Chromium. */
export async function startWebApp(users: { address: string; displayName?: string }[]): Promise<WebApp> {
  if (!existsSync(join(root, 'dist', 'webapp', 'index.html')))
    execFileSync(process.execPath, [join(root, 'webapp', 'build.js')], { cwd: root, stdio: 'inherit' });
  const t = await startTestNode('sqlite');
  const tenant = await t.node.holdfast.directory.tenant('default');
  for (const user of users) await tenant.addPrincipal({ kind: 'user', password, ...user });
  const browser = await chromium.launch({
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
  return {
    t,
    base: `http://127.0.0.1:${t.port('http')}`,
    browser,
    async newPage() {
      const context = await browser.newContext();
      return { context, page: await context.newPage() };
    },
    async stop() {
      await browser.close();
      await t.stop();
    },
  };
}

/** Signs in through the form and waits for the INBOX. */
export async function signIn(page: Page, base: string, address: string, pass = password): Promise<void> {
  await page.goto(`${base}/mail/`);
  await page.getByLabel('Email address').fill(address);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await folderOf(page, 'Inbox').waitFor();
}

/** The list's row of a message by its exact subject. */
export const rowOf = (page: Page, subject: string) =>
  page.locator('.messages .row').filter({ has: page.locator('.subject-text').getByText(subject, { exact: true }) });

/** A folder's button in the folder list. */
export const folderOf = (page: Page, name: string) => page.locator('.folders .folder', { hasText: name });

/** The session cookie of a browser profile, as a Cookie header. */
export async function cookieHeader(context: BrowserContext, base: string): Promise<string> {
  const cookie = (await context.cookies(base)).find((c) => c.name === 'hf_session');
  return cookie ? `hf_session=${cookie.value}` : '';
}

/** The subjects in a folder, read over IMAP (imapflow); none when the folder cannot be opened. */
export async function imapSubjects(t: TestNode, address: string, folder: string, pass = password): Promise<string[]> {
  const client = imapflowClient(t.port('imaps'), address, pass);
  await client.connect();
  try {
    await client.mailboxOpen(folder);
    const subjects: string[] = [];
    for await (const message of client.fetch('1:*', { envelope: true })) subjects.push(message.envelope?.subject ?? '');
    return subjects;
  } catch {
    return [];
  } finally {
    await client.logout();
  }
}

/** Delivers a message from outside over SMTP (port 25). */
export function fromOutside(t: TestNode, message: SendMailOptions & { subject: string }): Promise<unknown> {
  return nodemailer
    .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, tls: { rejectUnauthorized: false } })
    .sendMail({ from: 'Mallory <mallory@remote.example>', ...message });
}

/** Waits for the mail view's status line to say `text`; a timeout says what it said instead. */
export async function statusShows(page: Page, text: string, timeout = 30_000): Promise<void> {
  const status = page.locator('header.top p.status');
  try {
    await status.filter({ hasText: text }).waitFor({ timeout });
  } catch (error) {
    throw new Error(`the status line never said "${text}"; it says "${await status.textContent()}"`, { cause: error });
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.x A and AA rules and best practices) on the page as it is now and fails listing
 * each serious or critical violation: rule, element and what to do. axe is evaluated through the
 * DevTools protocol, which the page's Content-Security-Policy does not apply to, so the app is checked
 * as it is served. The message's sandboxed frame (no scripts) is not entered: it holds the sender's HTML.
 */
export async function expectNoSeriousAxeViolations(page: Page, label: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(`${axeSource};window.axe = axe;`);
  const results = (await page.evaluate(() =>
    (window as unknown as { axe: { run(context: Document, options: object): Promise<unknown> } }).axe.run(document, {
      iframes: false,
      resultTypes: ['violations'],
    }),
  )) as AxeResults;
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (!serious.length) return;
  const lines = serious.flatMap((v) =>
    v.nodes.map((node) => `- ${v.id} (${v.impact}) at ${node.target.join(' ')}: ${v.help}`),
  );
  throw new Error(`${label}: ${lines.length} serious or critical accessibility violations\n${lines.join('\n')}`);
}
