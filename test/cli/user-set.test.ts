// `holdfast user set`: display name, role, quota and sign-in in one command; and the command line's
// own refusals (unknown option, a value outside an option's choices) reported like every other error.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliInstallation } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast user set on ${name}`, { skip: skipFor(name) }, () => {
    const { holdfast, json } = cliInstallation(name, 'set.example');
    const failsWith = async (args: string[], error: { code: string; message: string }) => {
      const result = await holdfast(...args, '--json');
      assert.equal(result.code, 1);
      assert.equal(result.stderr, '');
      assert.deepEqual(JSON.parse(result.stdout), { error });
    };

    before(async () => {
      await json('user', 'add', 'bob@set.example', '--password', 'Can-We-Fix-It-77');
    });

    it('changes name, role and quota, and disables and enables sign-in', async () => {
      const bob = await json(
        'user',
        'set',
        'bob@set.example',
        '--name',
        'Bob Builder',
        '--role',
        'tenant-admin',
        '--quota',
        '1GB',
        '--disable',
      );
      assert.deepEqual(
        [bob.displayName, bob.role, bob.quotaBytes, bob.disabled],
        ['Bob Builder', 'tenant-admin', 1_000_000_000, true],
      );
      const text = await holdfast('user', 'set', 'bob@set.example', '--enable');
      assert.equal(text.stdout, 'bob@set.example: "Bob Builder", role tenant-admin, quota 1GB, sign-in enabled\n');
    });

    it('keeps one enabled global administrator (no disable, demotion or removal), and asks for something to change', async () => {
      const message =
        'admin@set.example is the only enabled global administrator: make another user one first (holdfast user set <address> --role global-admin)';
      await failsWith(['user', 'set', 'admin@set.example', '--disable'], { code: 'last-global-admin', message });
      await failsWith(['user', 'set', 'admin@set.example', '--role', 'user'], { code: 'last-global-admin', message });
      // Removing the last one would leave nobody to sign in to the admin center or run the CLI.
      await failsWith(['user', 'remove', 'admin@set.example'], { code: 'last-global-admin', message });
      const users = (await json('user', 'list')) as { address: string; role: string }[];
      assert.equal(users.find((u) => u.address === 'admin@set.example')?.role, 'global-admin');
      await failsWith(['user', 'set', 'bob@set.example'], {
        code: 'nothing-to-change',
        message: 'give at least one of --name, --role, --quota, --disable, --enable',
      });
    });

    it('reports option errors as JSON under --json', async () => {
      await failsWith(['user', 'set', 'bob@set.example', '--quota', '0'], {
        code: 'invalid-option',
        message:
          '--quota = "0" is not allowed: expected a quota above 0, or "unlimited" for none (0 would refuse every message)',
      });
      await failsWith(['user', 'set', 'bob@set.example', '--role', 'boss'], {
        code: 'invalid-option',
        message: '--role = "boss" is not allowed: expected one of user, tenant-admin, global-admin',
      });
      await failsWith(['user', 'set', 'bob@set.example', '--frobnicate'], {
        code: 'invalid-usage',
        message: "unknown option '--frobnicate' (run with --help for usage)",
      });
      await failsWith(['user', 'set', 'bob@set.example', '--disable', '--enable'], {
        code: 'invalid-usage',
        message: "option '--disable' cannot be used with option '--enable' (run with --help for usage)",
      });
      const text = await holdfast('user', 'set', 'bob@set.example', '--frobnicate');
      assert.equal(text.code, 1);
      assert.equal(text.stderr, "holdfast: unknown option '--frobnicate' (run with --help for usage)\n");
    });
  });
}
