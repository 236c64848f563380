// `holdfast resource set|show`: an administrator gives a room a capacity and a booking policy and
// reads it back; a resource never set shows the defaults; a refused value names the option, the
// value and what is allowed, and changes nothing. `holdfast tenant set --forest` moves a tenant
// into another resource forest (the admin API's move uses the same function).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliInstallation } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast resource set and show on ${name}`, { skip: skipFor(name) }, () => {
    const { holdfast, json } = cliInstallation(name, 'acme.example');

    before(async () => {
      await json('resource', 'add', 'board@acme.example', '--type', 'room', '--name', 'Board room');
      await json('resource', 'add', 'van@acme.example', '--type', 'equipment');
      await json('user', 'add', 'ann@acme.example', '--password', 'Keep-Mail-Flowing-42');
      await json('group', 'add', 'execs@acme.example');
    });

    it('shows the defaults, sets capacity and policy, and shows them', async () => {
      const shown = await holdfast('resource', 'show', 'board@acme.example');
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(
        shown.stdout.trim(),
        [
          'room board@acme.example (Board room)',
          'capacity: not set',
          'auto-accept: yes',
          'allow conflicts: no',
          'booking window: 180 days',
          'maximum duration: 1d',
          'recurring meetings: yes',
          'who may book: everyone in the organisation',
        ].join('\n'),
      );
      const set = await json(
        'resource',
        'set',
        'board@acme.example',
        '--capacity',
        '12',
        '--auto-accept',
        'no',
        '--allow-conflicts',
        'yes',
        '--window-days',
        '30',
        '--max-duration',
        '4h',
        '--recurring',
        'no',
        '--book-in-policy',
        'list',
        '--bookers',
        'ann@acme.example,execs@acme.example',
      );
      assert.deepEqual(
        {
          capacity: set.capacity,
          autoAccept: set.autoAccept,
          allowConflicts: set.allowConflicts,
          windowDays: set.windowDays,
          maxDurationMinutes: set.maxDurationMinutes,
          allowRecurring: set.allowRecurring,
          bookInPolicy: set.bookInPolicy,
          bookers: set.bookers,
        },
        {
          capacity: 12,
          autoAccept: false,
          allowConflicts: true,
          windowDays: 30,
          maxDurationMinutes: 240,
          allowRecurring: false,
          bookInPolicy: 'list',
          bookers: ['ann@acme.example', 'execs@acme.example'],
        },
      );
      const text = (await holdfast('resource', 'show', 'board@acme.example')).stdout;
      assert.match(text, /^capacity: 12$/m);
      assert.match(text, /^auto-accept: no \(requests wait for a delegate with write access to its calendar\)$/m);
      assert.match(text, /^maximum duration: 4h$/m);
      assert.match(text, /^who may book: ann@acme\.example, execs@acme\.example$/m);
      assert.equal(
        (await json('resource', 'set', 'board@acme.example', '--book-in-policy', 'everyone')).bookers.length,
        0,
      );
    });

    it('moves a tenant into another resource forest', async () => {
      await json('forest', 'add', 'eu', '--max-connections', '50');
      await json('tenant', 'add', 'contoso');
      assert.equal((await json('tenant', 'set', 'contoso', '--forest', 'eu')).forest, 'eu');
      assert.match((await holdfast('tenant', 'show', 'contoso')).stdout, /^tenant contoso \(resource forest eu\)$/m);
      const forests = await json('forest', 'list');
      assert.equal(forests.find((f: { name: string }) => f.name === 'eu').tenants, 1);
      const unknown = await holdfast('tenant', 'set', 'contoso', '--forest', 'mars');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /unknown resource forest "mars"/);
      assert.equal((await json('tenant', 'show', 'contoso')).forest, 'eu');
    });

    it('refuses bad values naming the option, the value and what is allowed, changing nothing', async () => {
      const before = await json('resource', 'show', 'board@acme.example');
      for (const [args, message] of [
        [['--capacity', 'lots'], /--capacity: "lots" is not allowed: a whole number from 1 to 100,000/],
        [
          ['--window-days', '5000', '--capacity', '3'],
          /--window-days: "5000" is not allowed: a whole number from 1 to 1,080/,
        ],
        [
          ['--max-duration', 'forever'],
          /--max-duration: "forever" is not allowed: a duration such as "90m", "4h" or "2d"/,
        ],
        [['--auto-accept', 'maybe'], /--auto-accept: "maybe" is not allowed: yes or no/],
        [['--book-in-policy', 'friends'], /--book-in-policy: "friends" is not allowed: everyone or list/],
        [['--bookers', 'nobody@acme.example'], /--bookers: "nobody@acme.example" is not an address of a user or group/],
        [['--book-in-policy', 'list'], /--bookers: none given/],
        [[], /say what to change/],
      ] as const) {
        const refused = await holdfast('resource', 'set', 'board@acme.example', ...args);
        assert.equal(refused.code, 1, args.join(' '));
        assert.match(refused.stderr, message);
      }
      const van = await holdfast('resource', 'set', 'van@acme.example', '--capacity', '4');
      assert.equal(van.code, 1);
      assert.match(van.stderr, /--capacity: 4 is not allowed: only rooms have a capacity/);
      const notResource = await holdfast('resource', 'show', 'ann@acme.example');
      assert.equal(notResource.code, 1);
      assert.deepEqual(await json('resource', 'show', 'board@acme.example'), before);
    });
  });
}
