// Administrative commands find the server's installation from any directory, through the same
// configuration search as the server, and never create a second one by accident.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { cliOn, runHoldfast } from '../helpers/cli.ts';

// Nothing from the environment the tests run in may point the command somewhere.
const clean = {
  HOLDFAST_CONFIG: '',
  HOLDFAST_DATA_DIR: '',
  HOLDFAST_DATABASE_URL: '',
  HOLDFAST_HOSTNAME: 'mail.test.example',
  HOLDFAST_DOMAIN: 'test.example',
};

describe('finding the installation', () => {
  it('uses the configuration file of the directory it runs in, or HOLDFAST_CONFIG from anywhere', async () => {
    const [serverDir, dataDir, elsewhere] = [await tempDir(), await tempDir(), await tempDir()];
    await writeFile(join(serverDir, 'holdfast.toml'), `data_dir = "${dataDir}"\n`);
    const init = await runHoldfast(['init'], { env: clean, cwd: serverDir });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, new RegExp(`^set up Holdfast in SQLite ${dataDir}/holdfast\\.sqlite$`, 'm'));

    const here = await runHoldfast(['user', 'list'], { env: clean, cwd: serverDir });
    assert.equal(here.code, 0, here.stderr);
    assert.match(here.stdout, /admin@test\.example/);
    const viaVariable = await runHoldfast(['user', 'list'], {
      env: { ...clean, HOLDFAST_CONFIG: join(serverDir, 'holdfast.toml') },
      cwd: elsewhere,
    });
    assert.equal(viaVariable.code, 0, viaVariable.stderr);
    assert.match(viaVariable.stdout, /admin@test\.example/);
  });

  it('refuses from another directory, saying where it looked, and creates nothing there', async () => {
    const elsewhere = await tempDir();
    const result = await runHoldfast(['user', 'add', 'alice@test.example', '--password', 'Wonderland-42'], {
      env: clean,
      cwd: elsewhere,
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.split('\n')[0],
      `holdfast: no Holdfast installation found: the database SQLite ${elsewhere}/data/holdfast.sqlite does not exist; data directory ${elsewhere}/data; ` +
        `configuration looked for in ${elsewhere}/holdfast.toml (not found), /etc/holdfast/holdfast.toml (not found). ` +
        `Run the command with the server's configuration (HOLDFAST_CONFIG, or the server's HOLDFAST_DATA_DIR / HOLDFAST_DATABASE_URL), ` +
        `or set up a new installation with "holdfast init" (or "holdfast start")`,
    );
    assert.ok(!existsSync(join(elsewhere, 'data')), 'no data directory was created');
    const asJson = await runHoldfast(['user', 'list', '--json'], { env: clean, cwd: elsewhere });
    assert.equal(asJson.code, 1);
    assert.equal(JSON.parse(asJson.stdout).error.code, 'no-installation');
  });
});

for (const name of backendNames) {
  describe(`a missing installation on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const { holdfast } = cliOn(() => env);
    before(async () => {
      // An empty data directory, or an empty PostgreSQL database.
      backend = await createBackend(name);
      env = {
        ...clean,
        HOLDFAST_DATA_DIR: backend.dataDir,
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_HOSTNAME: 'mail.cli.example',
        HOLDFAST_DOMAIN: 'cli.example',
      };
    });
    after(() => backend.cleanup());

    it('refuses to work on a missing installation and says where it looked', async () => {
      const result = await holdfast('tenant', 'list');
      assert.equal(result.code, 1);
      const expected =
        name === 'sqlite'
          ? `SQLite ${backend.dataDir}/holdfast.sqlite (HOLDFAST_DATABASE_URL) does not exist`
          : 'has no Holdfast schema';
      assert.ok(result.stderr.includes(`holdfast: no Holdfast installation found: the database `), result.stderr);
      assert.ok(result.stderr.includes(expected), result.stderr);
      assert.ok(result.stderr.includes(`data directory ${backend.dataDir} (HOLDFAST_DATA_DIR)`), result.stderr);
      assert.match(
        result.stderr,
        /configuration looked for in \S+\/holdfast\.toml \(not found\), \/etc\/holdfast\/holdfast\.toml \(not found\)\..*"holdfast init"/,
      );
      assert.equal(result.stderr.trim().split('\n').length, 1);
      if (name === 'sqlite')
        assert.ok(!existsSync(join(backend.dataDir, 'holdfast.sqlite')), 'no database was created');
    });

    it('sets up an installation with init, once', async () => {
      const first = await holdfast('init');
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stdout,
        /first run: created forest "default", tenant "default", domain cli\.example and admin@cli\.example/,
      );
      assert.match(first.stdout, /admin password: \S{20}/);
      const again = await holdfast('init', '--json');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).created, false);
      const list = await holdfast('tenant', 'list');
      assert.equal(list.stderr, '');
      assert.match(list.stdout, /^TENANT\s+FOREST\ndefault\s+default$/m);
    });
  });
}
