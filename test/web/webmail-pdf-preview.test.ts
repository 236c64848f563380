// The web app's PDF preview (docs/webmail.md, "Attachments") in Chromium, on each store backend: a
// PDF attachment sent over SMTP opens in a dialog whose canvas shows its rendered page (pixels that
// are not blank), drawn by pdf.js loaded only then, with its worker from /mail/assets/; a malformed
// PDF says so and offers the download; a PDF whose /OpenAction is JavaScript runs nothing; the
// page's Content-Security-Policy is the app's usual one and nothing violates it; the open dialog
// passes axe; Escape and the Close button close it and give focus back to its Preview button.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type BackendName, backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import {
  chromiumPath,
  expectNoSeriousAxeViolations,
  fromOutside,
  password,
  rowOf,
  signIn,
  skipWithoutChromium,
} from './web-app-harness.ts';

/**
 * A PDF of `pages` pages (200 × 100 points: a blue band and "Page n"), its xref offsets computed;
 * objects 1 to 3 are the catalog, the page tree and the font, `extraObjects` come next, then the pages.
 */
function makePdf(extraCatalog = '', extraObjects: string[] = [], pages = 1): Buffer {
  const first = 4 + extraObjects.length;
  const objects = [
    `<< /Type /Catalog /Pages 2 0 R ${extraCatalog}>>`,
    `<< /Type /Pages /Kids [${Array.from({ length: pages }, (_, i) => `${first + 2 * i} 0 R`).join(' ')}] /Count ${pages} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ...extraObjects,
  ];
  for (let n = 1; n <= pages; n++) {
    const content = `0 0 1 rg 0 0 200 50 re f 0 g BT /F1 18 Tf 10 70 Td (Page ${n}) Tj ET`;
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents ${objects.length + 2} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`,
      `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    );
  }
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

const goodPdf = makePdf();
const longPdf = makePdf('', [], 22);
const scriptedPdf = makePdf('/OpenAction 4 0 R /AA << /WC 4 0 R >> ', [
  "<< /Type /Action /S /JavaScript /JS (app.alert\\('pwned'\\); this.print\\(\\); window.__pwned = 1;) >>",
]);
const brokenPdf = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catal', 'latin1');

/** The policy every page of the app is served with (docs/webmail.md, "Security model"). */
const expectedPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

for (const backend of backendNames) {
  describe(`the web app's PDF preview in Chromium (${backend})`, {
    skip: skipWithoutChromium || skipFor(backend),
  }, () => {
    let t: TestNode;
    let browser: Browser;
    let page: Page;
    let base: string;
    const alice = 'alice@test.example';
    const dialogs: string[] = [];
    const pageErrors: string[] = [];
    const cspReports: string[] = [];
    const requests: string[] = [];

    const open = async (subject: string) => {
      await rowOf(page, subject).waitFor({ timeout: 30_000 });
      await rowOf(page, subject).click();
      await page.locator('.message h2.subject', { hasText: subject }).waitFor();
    };
    const attachments = () => page.getByRole('list', { name: 'Attachments' });

    before(async () => {
      t = await startTestNode(backend as BackendName);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: alice, displayName: 'Alice', password });
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
      });
      base = `http://127.0.0.1:${t.port('http')}`;
      page = await (await browser.newContext()).newPage();
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (/Content.Security.Policy/i.test(m.text())) cspReports.push(m.text());
      });
      page.on('request', (r) => requests.push(r.url()));
      await page.addInitScript(() =>
        document.addEventListener('securitypolicyviolation', (e) =>
          console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
        ),
      );
      for (const [subject, filename, content] of [
        ['Quarterly report', 'report.pdf', goodPdf],
        ['Broken file', 'broken.pdf', brokenPdf],
        ['Scripted file', 'scripted.pdf', scriptedPdf],
        ['Long file', 'long.pdf', longPdf],
      ] as const)
        await fromOutside(t, {
          to: alice,
          subject,
          text: 'Attached.',
          attachments: [{ filename, content, contentType: 'application/pdf' }],
        });
      await signIn(page, base, alice);
    });
    after(async () => {
      await browser?.close();
      await t?.stop();
    });

    it('is served with the usual Content-Security-Policy', async () => {
      const response = await fetch(`${base}/mail/`);
      assert.equal(response.headers.get('content-security-policy'), expectedPolicy);
    });

    it('renders the first page of a PDF in a dialog, loading pdf.js and its worker only then', async () => {
      await open('Quarterly report');
      const worker = (url: string) => url.startsWith(`${base}/mail/assets/pdf.worker-`);
      assert.ok(!requests.some(worker), 'the pdf.js worker is not fetched before a preview');
      const before = requests.length;
      const button = attachments().getByRole('button', { name: 'Preview report.pdf' });
      await button.click();
      const dialog = page.getByRole('dialog', { name: 'Preview of report.pdf' });
      await dialog.waitFor();
      const canvas = dialog.getByRole('img', { name: 'Page 1 of report.pdf' });
      await canvas.waitFor();
      await dialog.getByText('Page 1 of 1').waitFor();
      // The page is drawn: the canvas holds blue pixels (the band) and dark ones (the text) on white.
      await page.waitForFunction(
        () => {
          const c = document.querySelector<HTMLCanvasElement>('.pdf-preview canvas');
          if (!c?.width) return false;
          const pixels = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let blue = 0;
          let dark = 0;
          for (let i = 0; i < pixels.length; i += 4) {
            if (pixels[i]! < 60 && pixels[i + 1]! < 60 && pixels[i + 2]! > 200) blue++;
            else if (pixels[i]! < 100 && pixels[i + 1]! < 100 && pixels[i + 2]! < 100 && pixels[i + 3]! > 200) dark++;
          }
          return blue > c.width * 10 && dark > 20;
        },
        undefined,
        { timeout: 30_000 },
      );
      const fetched = requests.slice(before);
      assert.ok(fetched.some(worker), `the worker came from /mail/assets/: ${fetched.join(' ')}`);
      assert.ok(
        page.workers().some((w) => worker(w.url())),
        'pdf.js parses in its worker, not on the page',
      );
      assert.deepEqual(
        requests.filter((u) => !u.startsWith(`${base}/`)),
        [],
        'nothing is fetched from elsewhere',
      );
      assert.equal(await dialog.getByRole('button', { name: 'Next page' }).isDisabled(), true);
      await expectNoSeriousAxeViolations(page, 'the PDF preview');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await button.evaluate((b) => b === document.activeElement), true, 'focus is back on Preview');
      await button.click();
      await dialog.getByRole('img', { name: 'Page 1 of report.pdf' }).waitFor();
      await dialog.getByRole('button', { name: 'Close preview' }).click();
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await button.evaluate((b) => b === document.activeElement), true, 'focus is back on Preview');
    });

    it('pages through the first 20 pages of a longer PDF and says the rest are not shown', async () => {
      await open('Long file');
      await attachments().getByRole('button', { name: 'Preview long.pdf' }).click();
      const dialog = page.getByRole('dialog', { name: 'Preview of long.pdf' });
      await dialog.getByText('Page 1 of 22').waitFor();
      await dialog.getByText('The preview shows the first 20 of 22 pages; download the file for the rest.').waitFor();
      const previous = dialog.getByRole('button', { name: 'Previous page' });
      const next = dialog.getByRole('button', { name: 'Next page' });
      assert.equal(await previous.isDisabled(), true);
      await next.click();
      await dialog.getByRole('img', { name: 'Page 2 of long.pdf' }).waitFor();
      await dialog.getByText('Page 2 of 22').waitFor();
      await previous.click();
      await dialog.getByText('Page 1 of 22').waitFor();
      for (let n = 1; n < 20; n++) await next.click();
      await dialog.getByText('Page 20 of 22').waitFor();
      assert.equal(await next.isDisabled(), true);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    });

    it('says a malformed PDF cannot be read and offers its download', async () => {
      await open('Broken file');
      await attachments().getByRole('button', { name: 'Preview broken.pdf' }).click();
      const dialog = page.getByRole('dialog', { name: 'Preview of broken.pdf' });
      await dialog.getByRole('alert').filter({ hasText: 'This file could not be read as a PDF.' }).waitFor();
      assert.equal(await dialog.locator('canvas').count(), 0);
      const download = dialog.getByRole('link', { name: 'Download' });
      assert.match((await download.getAttribute('href'))!, /^\/jmap\/download\//);
      await expectNoSeriousAxeViolations(page, 'the PDF preview of a malformed file');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    });

    it('runs none of the JavaScript a PDF holds', async () => {
      await open('Scripted file');
      await attachments().getByRole('button', { name: 'Preview scripted.pdf' }).click();
      const dialog = page.getByRole('dialog', { name: 'Preview of scripted.pdf' });
      await dialog.getByRole('img', { name: 'Page 1 of scripted.pdf' }).waitFor();
      await dialog.getByText('Page 1 of 1').waitFor();
      await page.waitForTimeout(1000);
      assert.deepEqual(dialogs, []);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      await dialog.getByRole('button', { name: 'Close preview' }).click();
      await dialog.waitFor({ state: 'detached' });
    });

    it('violated no part of the Content-Security-Policy and threw nothing', async () => {
      assert.deepEqual(cspReports, []);
      assert.deepEqual(pageErrors, []);
      // The watch works: an image from elsewhere is a violation it reports.
      await page.evaluate(() => {
        document.body.append(Object.assign(document.createElement('img'), { src: 'http://192.0.2.1/x.png' }));
      });
      await t.waitFor(async () => String(cspReports).includes('img-src'), 'the violation reported', 10_000);
    });
  });
}
