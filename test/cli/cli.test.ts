import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast, runHoldfast } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast CLI on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const { holdfast, json } = cliOn(() => env);
    const fails = async (args: string[], reason: string | RegExp) => {
      const result = await holdfast(...args);
      assert.equal(result.code, 1, `expected holdfast ${args.join(' ')} to fail`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
      if (typeof reason === 'string') assert.equal(lines[0], `holdfast: ${reason}`);
      else assert.match(lines[0]!, reason);
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
    after(() => backend.cleanup());

    it('manages forests, tenants and domains', async () => {
      assert.deepEqual(await json('forest', 'add', 'eu-west', '--max-connections', '40'), {
        id: 2,
        name: 'eu-west',
        maxConnections: 40,
        tenants: 0,
      });
      assert.equal((await json('forest', 'set', 'eu-west', '--max-connections', '60')).maxConnections, 60);
      assert.deepEqual(await json('tenant', 'add', 'acme', '--forest', 'eu-west'), {
        id: 2,
        name: 'acme',
        forest: 'eu-west',
        forestId: 2,
      });
      assert.equal((await json('domain', 'add', 'acme.example', '--tenant', 'acme')).kind, 'authoritative');
      assert.equal(
        (await json('domain', 'add', 'legacy.acme.example', '--tenant', 'acme', '--type', 'internal-relay')).kind,
        'internal-relay',
      );
      const domains = await json('domain', 'list', '--tenant', 'acme');
      assert.deepEqual(
        domains.map((d: { name: string }) => d.name),
        ['acme.example', 'legacy.acme.example'],
      );
      const forests = await json('forest', 'list');
      assert.deepEqual(
        forests.map((f: { name: string; tenants: number }) => [f.name, f.tenants]),
        [
          ['default', 1],
          ['eu-west', 1],
        ],
      );
      await fails(['tenant', 'add', 'acme'], 'tenant "acme" already exists');
      await fails(['domain', 'add', 'acme.example'], 'domain acme.example is already in use');
      await fails(['domain', 'add', 'other.example', '--tenant', 'globex'], 'unknown tenant "globex"');
      await fails(
        ['domain', 'add', '192.0.2.1'],
        '"192.0.2.1" is an IP address, not a domain name (expected something like example.com)',
      );
      await fails(['user', 'list', '--domain', 'nosuch.example'], /unknown domain nosuch\.example/);
      await fails(
        ['forest', 'set', 'eu-west', '--max-connections', 'many'],
        '--max-connections = "many" is not allowed: expected a whole number',
      );
    });

    it('adds users with passwords from an option, stdin, or generated', async () => {
      const alice = await json(
        'user',
        'add',
        'alice@acme.example',
        '--password',
        'Wonderland-42',
        '--quota',
        '2GB',
        '--name',
        'Alice',
      );
      assert.equal(alice.address, 'alice@acme.example');
      assert.equal(alice.quotaBytes, 2_000_000_000);
      assert.equal(alice.generatedPassword, undefined);
      const bob = await runHoldfast(['user', 'add', 'bob@acme.example', '--password-stdin', '--json'], {
        env,
        input: 'Can-We-Fix-It-77\n',
      });
      assert.equal(bob.code, 0, bob.stderr);
      const carol = await json('user', 'add', 'carol@acme.example');
      assert.match(carol.generatedPassword, /^\S{20}$/);
      const users = await json('user', 'list', '--tenant', 'acme');
      assert.deepEqual(
        users.map((u: { address: string }) => u.address),
        ['alice@acme.example', 'bob@acme.example', 'carol@acme.example'],
      );
      assert.equal(
        (await json('user', 'passwd', 'bob@acme.example', '--password', 'Yes-We-Can-88')).passwordChanged,
        true,
      );
      assert.equal((await json('user', 'set', 'bob@acme.example', '--quota', '500MB')).quotaBytes, 500_000_000);
    });

    it('explains every refusal in one line and exits 1', async () => {
      await fails(
        ['user', 'add', 'dave@nowhere.example', '--password', 'Wonderland-42'],
        'unknown domain "nowhere.example": add it first with "holdfast domain add"',
      );
      await fails(
        ['user', 'add', 'alice@acme.example', '--password', 'Wonderland-42'],
        'the address alice@acme.example is already in use',
      );
      await fails(
        ['user', 'add', 'erin@acme.example', '--password', 'erin'],
        /^holdfast: password too weak: it has 4 characters, at least 10 are needed/,
      );
      await fails(
        ['user', 'add', 'not-an-address', '--password', 'Wonderland-42'],
        '"not-an-address" is not a valid email address',
      );
      await fails(
        ['user', 'add', 'frank@acme.example', '--password', 'Wonderland-42', '--quota', 'lots'],
        /^holdfast: --quota = "lots" is not allowed: expected a size/,
      );
      await fails(['user', 'remove', 'ghost@acme.example'], 'unknown user ghost@acme.example');
      await fails(['domain', 'remove', 'acme.example'], /^holdfast: domain acme\.example still has 3 address\(es\)/);
      const asJson = await holdfast('user', 'add', 'alice@acme.example', '--password', 'Wonderland-42', '--json');
      assert.equal(asJson.code, 1);
      assert.deepEqual(JSON.parse(asJson.stdout), {
        error: { code: 'duplicate-address', message: 'the address alice@acme.example is already in use' },
      });
    });

    it('manages aliases, groups, shared mailboxes and resources', async () => {
      assert.deepEqual(await json('alias', 'add', 'a.liddell@acme.example', 'alice@acme.example'), {
        alias: 'a.liddell@acme.example',
        target: 'alice@acme.example',
      });
      assert.equal((await json('alias', 'list', '--tenant', 'acme')).length, 1);
      await json('group', 'add', 'team@acme.example', '--name', 'Team');
      await json('group', 'add', 'everyone@acme.example');
      await json('group', 'member', 'add', 'team@acme.example', 'a.liddell@acme.example');
      await json('group', 'member', 'add', 'team@acme.example', 'bob@acme.example');
      await json('group', 'member', 'add', 'everyone@acme.example', 'team@acme.example');
      await json('group', 'member', 'add', 'everyone@acme.example', 'partner@elsewhere.example');
      assert.deepEqual(await json('group', 'expand', 'everyone@acme.example'), [
        'alice@acme.example',
        'bob@acme.example',
        'partner@elsewhere.example',
      ]);
      await fails(
        ['group', 'member', 'add', 'team@acme.example', 'everyone@acme.example'],
        /would make a loop: team@acme\.example → everyone@acme\.example → team@acme\.example$/,
      );
      const members = await json('group', 'member', 'remove', 'team@acme.example', 'bob@acme.example');
      assert.deepEqual(members.members, ['a.liddell@acme.example']);
      const groups = await json('group', 'list', '--tenant', 'acme');
      assert.deepEqual(
        groups.map((g: { address: string; members: string[] }) => [g.address, g.members.length]),
        [
          ['everyone@acme.example', 2],
          ['team@acme.example', 1],
        ],
      );

      await json('shared', 'add', 'support@acme.example', '--name', 'Support');
      await json('resource', 'add', 'boardroom@acme.example', '--type', 'room', '--name', 'Board room');
      await json('resource', 'add', 'beamer@acme.example', '--type', 'equipment');
      const resources = await json('resource', 'list', '--tenant', 'acme');
      assert.deepEqual(
        resources.map((r: { address: string; kind: string }) => [r.address, r.kind]),
        [
          ['beamer@acme.example', 'equipment'],
          ['boardroom@acme.example', 'room'],
        ],
      );
      assert.equal((await json('shared', 'list', '--tenant', 'acme'))[0].address, 'support@acme.example');
      assert.deepEqual(await json('shared', 'grant', 'support@acme.example', 'bob@acme.example', '--send-as'), {
        mailbox: 'support@acme.example',
        grantee: 'bob@acme.example',
        fullAccess: false,
        sendAs: true,
      });
      assert.deepEqual(
        (await json('shared', 'list', '--tenant', 'acme'))[0].grants.map((g: { grantee: string }) => g.grantee),
        ['bob@acme.example'],
      );
      await fails(
        ['shared', 'grant', 'support@acme.example', 'bob@acme.example'],
        'give --full-access, --send-as or both',
      );

      assert.deepEqual(
        await json('calendar', 'grant', 'boardroom@acme.example', 'bob@acme.example', '--access', 'write'),
        {
          owner: 'boardroom@acme.example',
          calendar: 'calendar',
          grantee: 'bob@acme.example',
          access: 'write',
        },
      );
      const calendars = await json('calendar', 'list', 'boardroom@acme.example');
      assert.deepEqual(calendars, [
        {
          calendar: 'calendar',
          name: 'Calendar',
          components: 'VEVENT,VTODO',
          objects: 0,
          sharedWith: ['bob@acme.example (write)'],
        },
      ]);
      await fails(
        ['calendar', 'grant', 'boardroom@acme.example', 'admin@cli.example'],
        /another tenant; calendars are shared within a tenant only/,
      );
      await fails(
        ['calendar', 'grant', 'boardroom@acme.example', 'bob@acme.example', '--calendar', 'holidays'],
        /boardroom@acme\.example has no calendar named holidays/,
      );
      await json('calendar', 'revoke', 'boardroom@acme.example', 'bob@acme.example');
      assert.deepEqual((await json('calendar', 'list', 'boardroom@acme.example'))[0].sharedWith, []);
      await json('alias', 'remove', 'a.liddell@acme.example');
      assert.deepEqual(await json('alias', 'list', '--tenant', 'acme'), []);
      const removed = await json('user', 'remove', 'carol@acme.example');
      assert.deepEqual(removed, { removed: 'carol@acme.example' });
    });

    it('keeps tenants apart on the command line too', async () => {
      await fails(
        ['user', 'add', 'mallory@acme.example', '--password', 'Wonderland-42', '--tenant', 'default'],
        /unknown domain "acme\.example"/,
      );
      const defaults = await json('user', 'list', '--tenant', 'default');
      assert.deepEqual(
        defaults.map((u: { address: string }) => u.address),
        ['admin@cli.example'],
      );
    });
  });
}
