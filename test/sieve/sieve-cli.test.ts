// `holdfast sieve`: an administrator checks, stores (from a file and from standard input), lists,
// shows, activates, renames and deletes a user's scripts; a script with an error and the deletion of
// the active one are refused in one line.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast sieve on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const { holdfast, json } = cliOn(() => env);
    const user = 'carol@rules.example';

    before(async () => {
      backend = await createBackend(name);
      env = {
        HOLDFAST_DATA_DIR: backend.dataDir,
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_DOMAIN: 'rules.example',
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      };
      await initHoldfast(env);
      await json('user', 'add', user, '--password', 'Can-We-Fix-It-77');
    });
    after(() => backend.cleanup());

    it('checks, stores, lists, shows, activates, renames and deletes scripts', async () => {
      const good = join(backend.dataDir, 'good.sieve');
      const bad = join(backend.dataDir, 'bad.sieve');
      await writeFile(good, 'require "fileinto";\nif header :contains "subject" "report" { fileinto "Reports"; }\n');
      await writeFile(bad, 'require "fileinto";\nfileinto :copy "x";\n');
      assert.deepEqual(await json('sieve', 'check', good), { ok: true });
      const refused = await holdfast('sieve', 'check', bad);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /line 2: fileinto: unknown tag :copy/);
      assert.equal((await holdfast('sieve', 'put', user, 'broken', bad)).code, 1);

      assert.deepEqual(await json('sieve', 'put', user, 'rules', good, '--activate'), {
        user,
        name: 'rules',
        active: true,
      });
      await json('sieve', 'put', user, 'spare', good);
      const listed = await json('sieve', 'list', user);
      assert.deepEqual(
        listed.map((s: { name: string; active: boolean }) => [s.name, s.active]),
        [
          ['rules', true],
          ['spare', false],
        ],
      );
      const text = await holdfast('sieve', 'list', user);
      assert.match(text.stdout, /^\*\s+rules\s/m);
      assert.match((await holdfast('sieve', 'show', user, 'rules')).stdout, /fileinto "Reports"/);

      const deleteActive = await holdfast('sieve', 'delete', user, 'rules');
      assert.equal(deleteActive.code, 1);
      assert.match(deleteActive.stderr, /script "rules" is active/);
      await json('sieve', 'activate', user, 'spare');
      await json('sieve', 'rename', user, 'rules', 'old');
      await json('sieve', 'delete', user, 'old');
      await json('sieve', 'deactivate', user);
      assert.deepEqual(
        (await json('sieve', 'list', user)).map((s: { name: string; active: boolean }) => [s.name, s.active]),
        [['spare', false]],
      );
    });
  });
}
