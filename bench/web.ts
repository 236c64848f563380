// bench/web: the web app (/mail/) in Debian's Chromium (playwright-core, headless) against a Holdfast
// server process, measured in the browser and printed against the goals (there is no peer server for a
// web app):
//
// 1. First load: the JavaScript the sign-in page and then the mail page load, as the browser received
//    it (its response bodies), with what it weighs compressed with gzip (level 9) and brotli (quality
//    11). Goal: under 200 KB compressed.
// 2. Opening a message: from the click on a row to its body in the reading pane and the next frame,
//    for each of the --opens newest messages in turn, a second apart. Goal: median and p95 under 100 ms.
// 3. Scrolling a folder of --messages messages (seeded by IMAP APPEND over 8 connections) down to its
//    --rows'th row with the mouse wheel, the list loading 50 rows at a time as it goes: frames over
//    50 ms (gaps between requestAnimationFrame callbacks) and long tasks (PerformanceObserver
//    `longtask`). Goal: no frame over 50 ms.
//
//   npm run bench:web -- [--messages 50000] [--opens 50] [--rows 2000] [--database postgres://…]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { chromium, type Page } from 'playwright-core';
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { guarded } from './lib/cleanup.ts';
import { withInstallation } from './lib/holdfast-process.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '50000' },
  opens: { type: 'string', default: '50' },
  rows: { type: 'string', default: '2000' },
});
const total = Number(values.messages);
const opens = Math.min(Number(values.opens), total);
const rows = Math.min(Number(values.rows), total);
const user = 'reader@bench.example';
const password = 'Web-Bench-Words-7';
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const percentile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** A message of the folder: a few senders, a subject and two short paragraphs (about 1 KB). */
function message(i: number): Buffer {
  const date = new Date(Date.UTC(2026, 0, 1) + i * 60_000);
  const body = `Message ${i} of the web benchmark.\r\n\r\n${'A line of text that fills the preview and the body. '.repeat(12)}\r\n`;
  return Buffer.from(
    `From: Sender ${i % 40} <sender${i % 40}@elsewhere.example>\r\nTo: ${user}\r\nSubject: Web benchmark message ${i}\r\nDate: ${date.toUTCString()}\r\nMessage-ID: <web-${i}@elsewhere.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

async function seed(port: number): Promise<number> {
  const started = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user, pass: password },
        logger: false,
        tls: { rejectUnauthorized: false },
      });
      await client.connect();
      for (let i = c; i < total; i += 8) {
        await client.append('INBOX', message(i), [], new Date(Date.UTC(2026, 0, 1) + i * 60_000));
        if (++done % 5000 === 0) process.stderr.write(`  ${done} of ${total} appended\n`);
      }
      await client.logout();
    }),
  );
  return (performance.now() - started) / 1000;
}

interface Script {
  url: string;
  bytes: number;
  encoding: string;
  gzip: number;
  brotli: number;
}

/** Collects the scripts a page receives until `stop` is called. */
function scriptsOf(page: Page) {
  const seen: Promise<Script>[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return;
    seen.push(
      response.body().then((body) => ({
        url: new URL(response.url()).pathname,
        bytes: body.length,
        encoding: response.headers()['content-encoding'] ?? 'none',
        gzip: gzipSync(body, { level: 9 }).length,
        brotli: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      })),
    );
  });
  return () => Promise.all(seen.splice(0));
}

async function signIn(page: Page) {
  await page.getByLabel('Email address').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.messages .row').first().waitFor({ timeout: 60_000 });
}

/**
 * Clicks row `index` in the page and waits for its body in the reading pane and the next frame: ms, and
 * of them the first JMAP request made after the click (the reader's Email/get and Thread/get).
 */
function openRow(page: Page, index: number): Promise<{ ms: number; requestMs: number }> {
  return page.evaluate(
    (i) =>
      new Promise<{ ms: number; requestMs: number }>((resolve, reject) => {
        const row = document.querySelectorAll<HTMLButtonElement>('.messages .row')[i];
        if (!row) return reject(new Error(`no row ${i}`));
        const subject = row.querySelector('.subject-text')?.textContent ?? '';
        const shown = () => {
          const article = document.querySelector('.reader article.message');
          return (
            article?.querySelector('h2.subject')?.textContent?.includes(subject) &&
            article.querySelector('pre.text-body')?.textContent
          );
        };
        performance.clearResourceTimings(); // the buffer holds 250 entries: keep room for this open's
        const started = performance.now();
        const done = () =>
          requestAnimationFrame(() => {
            const ms = performance.now() - started;
            const request = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).find(
              (e) => e.startTime >= started && e.name.includes('/jmap/api/'),
            );
            resolve({ ms, requestMs: request ? request.responseEnd - request.startTime : Number.NaN });
          });
        const observer = new MutationObserver(() => {
          if (!shown()) return;
          observer.disconnect();
          done();
        });
        observer.observe(document.body, { childList: true, subtree: true, characterData: true });
        row.click();
        if (shown()) {
          observer.disconnect();
          done();
        }
        setTimeout(() => {
          observer.disconnect();
          reject(new Error(`row ${i} ("${subject}") never showed its body`));
        }, 30_000);
      }),
    index,
  );
}

interface ScrollFigures {
  seconds: number;
  frames: number;
  slowFrames: number;
  longestFrame: number;
  p95Frame: number;
  longTasks: number;
  longTaskMs: number;
  longestTask: number;
  loaded: number;
}

/** Wheels the list down until row `target` is on screen, watching frames and long tasks in the page. */
async function scrollTo(page: Page, target: number): Promise<ScrollFigures> {
  await page.evaluate(() => {
    const perf = { gaps: [] as number[], tasks: [] as number[], last: 0, running: true };
    (window as unknown as { benchPerf: typeof perf }).benchPerf = perf;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) perf.tasks.push(entry.duration);
    }).observe({ type: 'longtask' });
    const tick = (at: number) => {
      if (perf.last) perf.gaps.push(at - perf.last);
      perf.last = at;
      if (perf.running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const box = (await page.locator('main.list').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const started = performance.now();
  const reached = () =>
    page.evaluate((n) => {
      const row = document.querySelectorAll('.messages .row')[n - 1];
      if (!row) return false;
      const list = document.querySelector('main.list')!.getBoundingClientRect();
      const at = row.getBoundingClientRect();
      return at.top < list.bottom && at.bottom > list.top;
    }, target);
  while (!(await reached())) {
    if (performance.now() - started > 600_000) throw new Error(`row ${target} not reached in 10 minutes`);
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(16);
  }
  const seconds = (performance.now() - started) / 1000;
  const { gaps, tasks, loaded } = await page.evaluate(() => {
    const perf = (window as unknown as { benchPerf: { gaps: number[]; tasks: number[]; running: boolean } }).benchPerf;
    perf.running = false;
    return { gaps: perf.gaps, tasks: perf.tasks, loaded: document.querySelectorAll('.messages .row').length };
  });
  return {
    seconds,
    frames: gaps.length,
    slowFrames: gaps.filter((g) => g > 50).length,
    longestFrame: Math.max(0, ...gaps),
    p95Frame: percentile(gaps, 0.95),
    longTasks: tasks.length,
    longTaskMs: tasks.reduce((a, b) => a + b, 0),
    longestTask: Math.max(0, ...tasks),
    loaded,
  };
}

const figures = await withInstallation(values.database, async (installation) => {
  const config = join(installation.dir, 'holdfast.toml');
  writeFileSync(config, '[imap]\nplaintext_login = true\n[limits]\nmessages_per_minute = 100000\n');
  installation.cli(['user', 'add', user, '--password', password]);
  const server = await installation.start({
    HOLDFAST_CONFIG: config,
    HOLDFAST_IMAP_PORT: '0',
    HOLDFAST_HTTP_PORT: '0',
  });
  process.stderr.write(`seeding ${total} messages by APPEND\n`);
  const seedSeconds = await seed(server.port('imap'));
  process.stderr.write(`seeded in ${seedSeconds.toFixed(1)} s\n`);
  const base = `http://127.0.0.1:${server.port('http')}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  return guarded(
    () => browser.close(),
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      // tsx keeps function names with a helper, __name, that the functions evaluated in the page call.
      await context.addInitScript('window.__name = (f) => f;');
      const page = await context.newPage();
      const scripts = scriptsOf(page);
      await page.goto(`${base}/mail/`);
      await page.getByLabel('Email address').waitFor();
      const signInScripts = await scripts();
      await signIn(page);
      await page.waitForTimeout(1000); // any script the mail view loads after its first rows
      const mailScripts = await scripts();

      const openMs: number[] = [];
      const requestMs: number[] = [];
      for (let i = 0; i < opens; i++) {
        const opened = await openRow(page, i);
        openMs.push(opened.ms);
        requestMs.push(opened.requestMs);
        await page.waitForTimeout(1000); // as someone reading: what the open set off (read flag, push, refresh) is over
      }
      // A fresh page for scrolling: the list as it first loads, nothing open.
      await page.close();
      const scrolling = await context.newPage();
      await scrolling.setViewportSize({ width: 1280, height: 800 });
      await scrolling.goto(`${base}/mail/`);
      await scrolling.locator('.messages .row').first().waitFor({ timeout: 60_000 });
      const scroll = await scrollTo(scrolling, rows);
      return { seedSeconds, signInScripts, mailScripts, openMs, requestMs, scroll };
    },
  );
});

const { signInScripts, mailScripts, openMs, requestMs, scroll } = figures;
const all = [...signInScripts, ...mailScripts];
const sum = (key: 'bytes' | 'gzip' | 'brotli') => all.reduce((n, s) => n + s[key], 0);
const goal = (ok: boolean) => (ok ? 'meets the goal' : 'MISSES the goal');
console.log(
  `web: Holdfast on ${storeName(values.database)}, Chromium headless at 1280x800, INBOX of ${total} messages (seeded in ${figures.seedSeconds.toFixed(0)} s)`,
);
console.log('');
console.log('first load: JavaScript received (as served / gzip -9 / brotli q11)');
for (const [label, list] of [
  ['sign-in page', signInScripts],
  ['mail page, after signing in', mailScripts],
] as const)
  for (const s of list)
    console.log(
      `  ${label}: ${s.url} ${kb(s.bytes)} (Content-Encoding: ${s.encoding}) / ${kb(s.gzip)} / ${kb(s.brotli)}`,
    );
console.log(
  `  in all: ${kb(sum('bytes'))} as served, ${kb(sum('gzip'))} gzip, ${kb(sum('brotli'))} brotli; goal < 200 KB compressed: ${goal(sum('gzip') < 200 * 1024)}`,
);
console.log('');
const median = percentile(openMs, 0.5);
const p95 = percentile(openMs, 0.95);
console.log(
  `opening a message (click to body shown, ${openMs.length} messages): median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, slowest ${Math.max(...openMs).toFixed(1)} ms; goal < 100 ms: ${goal(p95 < 100)}`,
);
console.log(
  `  of which the JMAP request (Email/get + Thread/get, in the browser's resource timing): median ${percentile(requestMs, 0.5).toFixed(1)} ms, p95 ${percentile(requestMs, 0.95).toFixed(1)} ms`,
);
console.log('');
console.log(
  `scrolling to row ${rows} (${scroll.loaded} rows loaded, ${scroll.seconds.toFixed(1)} s): ${scroll.frames} frames, ${scroll.slowFrames} over 50 ms, longest ${scroll.longestFrame.toFixed(1)} ms, p95 ${scroll.p95Frame.toFixed(1)} ms; long tasks ${scroll.longTasks} (${scroll.longTaskMs.toFixed(0)} ms in all, longest ${scroll.longestTask.toFixed(1)} ms); goal no frame over 50 ms: ${goal(scroll.slowFrames === 0)}`,
);
