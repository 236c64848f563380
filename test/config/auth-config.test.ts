// [auth]: the cache of verified sign-ins and the KDF queue. Left out, each key is undefined and the
// directory's defaults apply; a wrong value names the key, the value and what is allowed.
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

describe('[auth] configuration', () => {
  it('leaves every key to the directory when absent', async () => {
    const { cwd } = await withToml('');
    assert.deepEqual(loadConfig({ env, cwd }).auth, {
      cacheSize: undefined,
      cacheTtlMs: undefined,
      kdfConcurrency: undefined,
      kdfQueue: undefined,
    });
  });

  it('reads the cache and queue settings; cache_size = 0 turns the cache off', async () => {
    const { cwd } = await withToml('[auth]\ncache_size = 0\ncache_ttl = "10m"\nkdf_concurrency = 2\nkdf_queue = 50\n');
    assert.deepEqual(loadConfig({ env, cwd }).auth, {
      cacheSize: 0,
      cacheTtlMs: 600_000,
      kdfConcurrency: 2,
      kdfQueue: 50,
    });
  });

  for (const [line, message] of [
    ['cache_size = -1', 'auth.cache_size = -1 is not allowed: expected a number of remembered sign-ins, 0 or more'],
    ['cache_ttl = 60', 'auth.cache_ttl = 60 is not allowed: expected a duration such as "500ms", "30s"'],
    [
      'kdf_concurrency = 0',
      'auth.kdf_concurrency = 0 is not allowed: expected a number of password hashes computed at once, 1 or more',
    ],
    [
      'kdf_queue = "many"',
      'auth.kdf_queue = "many" is not allowed: expected a number of sign-ins that may wait for a password check, 1 or more',
    ],
  ]) {
    it(`refuses ${line}, naming key, value and what is allowed`, async () => {
      const { cwd, file } = await withToml(`[auth]\n${line}\n`);
      assert.throws(
        () => loadConfig({ env, cwd }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${file}: ${message}`),
      );
    });
  }
});
