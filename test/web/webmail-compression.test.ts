// The web app's files go compressed to browsers that accept it: brotli first, else gzip, never an
// encoding the request refuses (q=0), with Vary: Accept-Encoding; the bytes decompress to the file
// as built. Raw HTTP requests (node:http, which neither asks for nor undoes compression by itself)
// to a real node; Chromium then loads the app and reads it compressed off the wire.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { skipWithoutChromium, startWebApp, type WebApp } from './web-app-harness.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const get = (url: string, acceptEncoding?: string) =>
  new Promise<RawAnswer>((resolve, reject) => {
    const req = request(url, { headers: acceptEncoding ? { 'Accept-Encoding': acceptEncoding } : {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

describe('the web app compressed', { skip: skipWithoutChromium }, () => {
  let app: WebApp;
  let script: string;
  let plain: Buffer;

  before(async () => {
    app = await startWebApp([{ address: 'alice@test.example' }]);
    const index = (await get(`${app.base}/mail/`)).body.toString('utf8');
    script = /src="\/mail\/(assets\/[^"]+\.js)"/.exec(index)?.[1] ?? '';
    assert.ok(script, `a script in ${index.slice(0, 300)}`);
    plain = (await get(`${app.base}/mail/${script}`)).body;
  });
  after(() => app.stop());

  /** The first answers may come before the copies are made (they are made off the event loop). */
  const compressedAnswer = async (acceptEncoding: string) => {
    for (let tries = 0; tries < 50; tries++) {
      const answer = await get(`${app.base}/mail/${script}`, acceptEncoding);
      if (answer.headers['content-encoding']) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no compressed answer for ${acceptEncoding}`);
  };

  it('sends brotli when accepted, else gzip, each the same bytes as built', async () => {
    const br = await compressedAnswer('gzip, deflate, br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.match(String(br.headers['cache-control']), /immutable/);
    assert.ok(br.body.length < plain.length / 2, `${br.body.length} compressed bytes of ${plain.length}`);
    assert.deepEqual(brotliDecompressSync(br.body), plain);

    const gz = await compressedAnswer('gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gz.body), plain);
  });

  it('sends the file as it is when no encoding is accepted', async () => {
    for (const acceptEncoding of [undefined, 'identity', 'br;q=0, gzip;q=0', 'deflate']) {
      const answer = await get(`${app.base}/mail/${script}`, acceptEncoding);
      assert.equal(answer.headers['content-encoding'], undefined, String(acceptEncoding));
      assert.deepEqual(answer.body, plain);
    }
  });

  it('reaches the browser compressed, and the app still signs in', async () => {
    const { context, page } = await app.newPage();
    const scripts: { url: string; encoding: string; bytes: number }[] = [];
    page.on('response', async (response) => {
      if (!response.url().endsWith('.js')) return;
      const headers = await response.allHeaders();
      scripts.push({
        url: response.url(),
        encoding: headers['content-encoding'] ?? '',
        bytes: Number(headers['content-length']),
      });
    });
    await page.goto(`${app.base}/mail/`);
    await page.getByLabel('Email address').waitFor();
    assert.ok(scripts.length > 0);
    // Files under 1 KB are not worth compressing and go as they are.
    for (const s of scripts) assert.ok(s.encoding === 'br' || s.bytes < 1024, JSON.stringify(s));
    assert.ok(scripts.some((s) => s.url.endsWith(script) && s.encoding === 'br'));
    await context.close();
  });
});
