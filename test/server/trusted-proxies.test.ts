// Holdfast behind a TLS-terminating HTTP proxy ([http] trusted_proxies): the client's own address
// (X-Forwarded-For) is what sign-in throttling and the loopback rules see, and X-Forwarded-Proto
// says whether the client used HTTPS — but only when the request comes from a trusted proxy. From
// anywhere else the headers are ignored, so a client cannot claim to be on loopback.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../helpers/backends.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';

const admin = 'admin@test.example';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A GET from `source` (a loopback address) with the given headers; resolves with the status. */
function get(port: number, path: string, source: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: source, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('behind a trusted HTTP proxy', () => {
  let t: TestNode;
  const proxy = '127.0.0.1';
  before(async () => {
    t = await startTestNode('sqlite', { toml: `[http]\ntrusted_proxies = ["${proxy}", "10.0.0.0/8"]\n` });
  });
  after(() => t.stop());

  it("sees the client's own address: /metrics is open to this machine only, not to clients behind the proxy", async () => {
    const port = t.port('http');
    assert.equal(await get(port, '/metrics', proxy), 200, 'the proxy host itself, no forwarded address');
    assert.equal(await get(port, '/metrics', proxy, { 'X-Forwarded-For': '203.0.113.9' }), 401);
    assert.equal(
      await get(port, '/metrics', proxy, { 'X-Forwarded-For': '127.0.0.1, 203.0.113.9' }),
      401,
      'the address the proxy saw counts, not one the client wrote before it',
    );
    assert.equal(
      await get(port, '/metrics', '127.0.0.2', { 'X-Forwarded-For': '203.0.113.9' }),
      200,
      'a host that is no trusted proxy cannot forward: its header is ignored',
    );
  });

  it('takes HTTPS from X-Forwarded-Proto, so passwords pass the proxy but not plain HTTP from outside', async () => {
    const port = t.port('http');
    const issues = '/admin/serviceAnnouncement/issues';
    const client = { 'X-Forwarded-For': '198.51.100.20', Authorization: basic(admin, adminPassword) };
    assert.equal(await get(port, issues, proxy, client), 403, 'plain HTTP from another machine');
    assert.equal(await get(port, issues, proxy, { ...client, 'X-Forwarded-Proto': 'https' }), 200);
  });

  it('throttles failed sign-ins per client behind the proxy, never everyone who comes through it', async () => {
    const port = t.port('http');
    const issues = '/admin/serviceAnnouncement/issues';
    const through = (client: string, password: string) =>
      get(port, issues, proxy, {
        'X-Forwarded-For': client,
        'X-Forwarded-Proto': 'https',
        Authorization: basic(admin, password),
      });
    for (let i = 0; i < 5; i++) assert.equal(await through('198.51.100.1', `Wrong-Guess-${i}`), 401);
    assert.equal(
      await through('198.51.100.1', adminPassword),
      429,
      'the guessing client waits, though the right password is remembered from the test before (no oracle)',
    );
    assert.equal(await through('198.51.100.2', adminPassword), 200, 'another client of the same proxy does not');
  });
});

describe('without trusted proxies', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode('sqlite');
  });
  after(() => t.stop());

  it('ignores X-Forwarded-For and X-Forwarded-Proto', async () => {
    const port = t.port('http');
    assert.equal(await get(port, '/metrics', '127.0.0.1', { 'X-Forwarded-For': '203.0.113.9' }), 200);
  });
});

describe('[http] trusted_proxies', () => {
  it('names the key, the value and what is allowed when an entry is no address or network', async () => {
    const cwd = await tempDir();
    const file = join(cwd, 'holdfast.toml');
    for (const bad of ['"proxy.example"', '"10.0.0.0/33"', '"::1/129"', '"10.0.0.1/8/1"']) {
      await writeFile(file, `[http]\ntrusted_proxies = [${bad}]\n`);
      assert.throws(
        () => loadConfig({ env: { HOLDFAST_HOSTNAME: 'mail.example.com' }, cwd }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes(`http.trusted_proxies = [${bad}] is not allowed`) &&
          error.message.includes('expected a list of IP addresses or networks'),
        bad,
      );
    }
    await writeFile(file, '[http]\ntrusted_proxies = ["192.0.2.10", "fd00::/8", "10.1.0.0/16"]\n');
    assert.deepEqual(loadConfig({ env: { HOLDFAST_HOSTNAME: 'mail.example.com' }, cwd }).http.trustedProxies, [
      '192.0.2.10',
      'fd00::/8',
      '10.1.0.0/16',
    ]);
  });
});
