// [filtering]: defaults, a full section, and refusals that name the key, the value and what is allowed.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../helpers/backends.ts';

const env = { HOLDFAST_HOSTNAME: 'mail.example.com' };

async function withToml(toml: string) {
  const cwd = await tempDir();
  await writeFile(join(cwd, 'holdfast.toml'), toml);
  return { cwd, file: join(cwd, 'holdfast.toml') };
}

describe('[filtering] configuration', () => {
  it('scans nothing without the section, and fails open', async () => {
    const { cwd } = await withToml('');
    const filtering = loadConfig({ env, cwd }).filtering;
    assert.equal(filtering.rspamdUrl, undefined);
    assert.equal(filtering.clamd, undefined);
    assert.equal(filtering.onFailure, 'fail_open');
    assert.equal(filtering.quarantineRetentionMs, 30 * 86_400_000);
    assert.equal(filtering.maxScanSize, 20_000_000);
    assert.deepEqual([filtering.fuzzyFlag, filtering.fuzzyWeight], [undefined, 5]);
  });

  it('reads every key, a local socket and a tenant threshold', async () => {
    const { cwd } = await withToml(
      [
        '[filtering]',
        'rspamd_url = "http://127.0.0.1:11333"',
        'rspamd_controller_url = "http://127.0.0.1:11334"',
        'rspamd_password = "secret"',
        'fuzzy_flag = 11',
        'fuzzy_weight = 20',
        'clamd = "/run/clamav/clamd.ctl"',
        'on_failure = "fail_closed"',
        'timeout = "5s"',
        'max_scan_size = "10MB"',
        'quarantine_score = 12.5',
        'malware = "quarantine"',
        'scan_submission = false',
        'outbound_spam_limit = 5',
        'quarantine_digest = false',
        'quarantine_retention = "14d"',
        '[filtering.tenant.Contoso]',
        'quarantine_score = 9',
        '',
      ].join('\n'),
    );
    const f = loadConfig({ env, cwd }).filtering;
    assert.equal(f.rspamdUrl?.href, 'http://127.0.0.1:11333/');
    assert.deepEqual(f.clamd, { path: '/run/clamav/clamd.ctl' });
    assert.deepEqual(
      [f.onFailure, f.timeoutMs, f.maxScanSize, f.quarantineScore, f.malware, f.scanSubmission],
      ['fail_closed', 5000, 10_000_000, 12.5, 'quarantine', false],
    );
    assert.deepEqual([f.outboundSpamLimit, f.quarantineDigest, f.quarantineRetentionMs], [5, false, 14 * 86_400_000]);
    assert.deepEqual(f.tenantQuarantineScore, { contoso: 9 });
    assert.deepEqual([f.fuzzyFlag, f.fuzzyWeight], [11, 20]);
  });

  it('reads clamd over TCP, IPv6 too', async () => {
    const { cwd } = await withToml('[filtering]\nclamd = "[::1]:3310"\n');
    assert.deepEqual(loadConfig({ env, cwd }).filtering.clamd, { host: '::1', port: 3310 });
  });

  for (const [line, message] of [
    [
      'on_failure = "maybe"',
      'filtering.on_failure = "maybe" is not allowed: expected one of "fail_open", "fail_closed"',
    ],
    ['malware = "ignore"', 'filtering.malware = "ignore" is not allowed: expected one of "reject", "quarantine"'],
    ['clamd = "localhost"', 'filtering.clamd = "localhost" is not allowed: expected clamd\'s address: "host:port"'],
    ['rspamd_url = "ftp://x"', 'filtering.rspamd_url = "ftp://x" is not allowed: expected an "http://host:port" URL'],
    [
      'quarantine_score = "high"',
      'filtering.quarantine_score = "high" is not allowed: expected a spam score such as 15 or 12.5',
    ],
    ['max_scan_size = 0', 'filtering.max_scan_size = 0 is not allowed: expected a size such as "25MB"'],
    [
      'fuzzy_flag = 0',
      "filtering.fuzzy_flag = 0 is not allowed: expected the flag of the local fuzzy rule's fuzzy_map in rspamd, a whole number from 1 to 255",
    ],
    [
      'fuzzy_weight = "heavy"',
      'filtering.fuzzy_weight = "heavy" is not allowed: expected the weight one report adds to a fuzzy hash, a whole number from 1 to 1,000',
    ],
    ['scanner = "x"', 'unknown key "scanner" in [filtering]'],
  ]) {
    it(`refuses ${line}, naming key, value and what is allowed`, async () => {
      const { cwd, file } = await withToml(`[filtering]\n${line}\n`);
      assert.throws(
        () => loadConfig({ env, cwd }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.ok(error.message.startsWith(`${file}: ${message}`), error.message);
          return true;
        },
      );
    });
  }
});
