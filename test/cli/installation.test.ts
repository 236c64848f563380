// Administrative commands find the server's installation from any directory, through the same
// configuration search as the server, and never create a second one by accident.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/backends.ts';
import { runHoldfast } from '../helpers/cli.ts';

// Nothing from the environment the tests run in may point the command somewhere.
const clean = { HOLDFAST_CONFIG: '', HOLDFAST_DATA_DIR: '', HOLDFAST_DATABASE_URL: '', HOLDFAST_HOSTNAME: 'mail.test.example', HOLDFAST_DOMAIN: 'test.example' };

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
    const viaVariable = await runHoldfast(['user', 'list'], { env: { ...clean, HOLDFAST_CONFIG: join(serverDir, 'holdfast.toml') }, cwd: elsewhere });
    assert.equal(viaVariable.code, 0, viaVariable.stderr);
    assert.match(viaVariable.stdout, /admin@test\.example/);
  });

  it('refuses from another directory, saying where it looked, and creates nothing there', async () => {
    const elsewhere = await tempDir();
    const result = await runHoldfast(['user', 'add', 'alice@test.example', '--password', 'Wonderland-42'], { env: clean, cwd: elsewhere });
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
