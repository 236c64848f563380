// `holdfast contacts list|grant|revoke`: an administrator shares a user's address book within the
// tenant, sees it listed, and stops sharing it; a grant across tenants is refused in one line.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast contacts on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const { holdfast, json } = cliOn(() => env);

    before(async () => {
      backend = await createBackend(name);
      env = {
        HOLDFAST_DATA_DIR: backend.dataDir,
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_DOMAIN: 'cards.example',
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      };
      await initHoldfast(env);
      await json('user', 'add', 'alice@cards.example', '--password', 'Wonderland-42');
      await json('user', 'add', 'bob@cards.example', '--password', 'Can-We-Fix-It-77');
    });
    after(() => backend.cleanup());

    it('grants, lists and revokes', async () => {
      assert.deepEqual(
        await json('contacts', 'grant', 'alice@cards.example', 'bob@cards.example', '--access', 'write'),
        {
          owner: 'alice@cards.example',
          addressBook: 'contacts',
          grantee: 'bob@cards.example',
          access: 'write',
        },
      );
      assert.deepEqual(await json('contacts', 'list', 'alice@cards.example'), [
        { addressBook: 'contacts', name: 'Contacts', cards: 0, sharedWith: ['bob@cards.example (write)'] },
      ]);
      const missing = await holdfast(
        'contacts',
        'grant',
        'alice@cards.example',
        'bob@cards.example',
        '--address-book',
        'work',
      );
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /alice@cards\.example has no address book named work/);
      await json('contacts', 'revoke', 'alice@cards.example', 'bob@cards.example');
      assert.deepEqual((await json('contacts', 'list', 'alice@cards.example'))[0].sharedWith, []);
    });
  });
}
