// The backup and store commands as an administrator runs them: the default place beside the data
// (leaving an upgrade's copies alone), list, expire, verify's exit status, and store copy with its
// catch-up; each failure one line naming the problem.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, postgresSkip, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast backup and store commands on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const cleanups: (() => Promise<unknown>)[] = [];
    const { holdfast, json } = cliOn(() => env);
    const fails = async (args: string[], reason: RegExp) => {
      const result = await holdfast(...args);
      assert.equal(result.code, 1, `expected holdfast ${args.join(' ')} to fail: ${result.stdout}`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
      assert.match(lines[0]!, reason);
    };

    before(async () => {
      backend = await createBackend(name);
      env = {
        HOLDFAST_DATA_DIR: backend.dataDir,
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_HOSTNAME: 'mail.cli.example',
        HOLDFAST_DOMAIN: 'cli.example',
      };
      await initHoldfast(env);
    });
    after(async () => {
      for (const cleanup of cleanups) await cleanup().catch(() => {});
      await backend.cleanup();
    });

    it('creates backups beside the data by default, lists, verifies and expires them', async () => {
      // An upgrade's copy of the database lives in <data dir>/backups too: it stays untouched.
      await mkdir(join(backend.dataDir, 'backups'), { recursive: true });
      await writeFile(join(backend.dataDir, 'backups', 'holdfast-schema-v16-x.sqlite'), 'an upgrade copy');
      const first = await json('backup', 'create');
      assert.equal(first.dir, join(backend.dataDir, 'backups', 'snapshots', first.id));
      await json('domain', 'add', 'second.example');
      const second = await json('backup', 'create');
      assert.notEqual(second.id, first.id);
      assert.deepEqual(
        (await json('backup', 'list')).map((b: { id: string }) => b.id),
        [first.id, second.id],
      );
      const verified = await json('backup', 'verify', second.dir);
      assert.equal(verified.ok, true);
      const text = await holdfast('backup', 'verify', second.dir);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^backup backup-\S+ is good: \d+ tables, \d+ rows, \d+ contents/);

      const expiry = await json('backup', 'expire', '--keep', '1');
      assert.deepEqual(expiry.removed, [first.id]);
      assert.deepEqual(await readdir(join(backend.dataDir, 'backups')), ['holdfast-schema-v16-x.sqlite', 'snapshots']);

      // verify's verdict goes to stdout like a good one's, with exit status 1.
      const damaged = await holdfast('backup', 'verify', join(backend.dataDir, 'nowhere'));
      assert.equal(damaged.code, 1);
      assert.match(damaged.stdout, /^not usable: no manifest\.json in .*nowhere: not a Holdfast backup/);
      await fails(['backup', 'restore', second.dir], /is not empty: it holds a Holdfast store/);
      await fails(['backup', 'expire', '--keep', '0'], /keep at least the newest backup/);
    });

    it('copies the store into another backend and catches up', { skip: postgresSkip }, async () => {
      const other = await createBackend(name === 'sqlite' ? 'postgres' : 'sqlite');
      cleanups.push(() => other.cleanup());
      const copied = await json('store', 'copy', '--to', other.databaseUrl);
      assert.equal(copied.catchUp, false);
      assert.ok(copied.counts.principals >= 1);
      await fails(['store', 'copy', '--to', other.databaseUrl], /is not empty: it holds a Holdfast store/);
      const caughtUp = await json('store', 'copy', '--to', other.databaseUrl, '--catch-up');
      assert.equal(caughtUp.catchUp, true);
      assert.deepEqual(caughtUp.counts, copied.counts);
      // The copy is an installation the commands work on.
      const onCopy = cliOn(() => ({
        ...env,
        HOLDFAST_DATABASE_URL: other.databaseUrl,
        HOLDFAST_DATA_DIR: other.dataDir,
      }));
      assert.equal((await onCopy.holdfast('domain', 'list')).code, 0);
      const fresh = await tempDir();
      cleanups.push(() => rm(fresh, { recursive: true, force: true }));
      await fails(
        ['store', 'copy', '--to', join(fresh, 'new.sqlite'), '--catch-up'],
        /--catch-up replaces an earlier copy/,
      );
    });
  });
}
