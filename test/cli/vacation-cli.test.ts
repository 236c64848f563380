// `holdfast vacation show|set|off`: an administrator turns a user's automatic reply on with its text
// and dates, reads it back, turns it off keeping the text; impossible settings are refused in one line.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliInstallation } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast vacation on ${name}`, { skip: skipFor(name) }, () => {
    const { holdfast, json } = cliInstallation(name, 'away.example');

    before(async () => {
      await json('user', 'add', 'bob@away.example', '--password', 'Can-We-Fix-It-77');
    });

    it('sets, shows and turns off a reply', async () => {
      assert.equal((await json('vacation', 'show', 'bob@away.example')).isEnabled, false);
      const set = await json(
        'vacation',
        'set',
        'bob@away.example',
        '--text',
        'Away until July.',
        '--from',
        '2026-06-01',
        '--until',
        '2026-07-01',
        '--days',
        '3',
      );
      assert.deepEqual(
        [set.isEnabled, set.textBody, set.fromDate, set.toDate, set.days],
        [true, 'Away until July.', Date.parse('2026-06-01T00:00:00Z'), Date.parse('2026-07-01T00:00:00Z'), 3],
      );
      const shown = await holdfast('vacation', 'show', 'bob@away.example');
      assert.match(shown.stdout, /^automatic reply of bob@away\.example: on/);
      assert.match(shown.stdout, /^text: +Away until July\.$/m);
      const off = await json('vacation', 'off', 'bob@away.example');
      assert.deepEqual([off.isEnabled, off.textBody], [false, 'Away until July.']);
    });

    it('refuses dates out of order and a period the RFC does not allow', async () => {
      const dates = await holdfast(
        'vacation',
        'set',
        'bob@away.example',
        '--from',
        '2026-08-01',
        '--until',
        '2026-07-01',
      );
      assert.equal(dates.code, 1);
      assert.match(dates.stderr, /toDate must be after fromDate/);
      const days = await holdfast('vacation', 'set', 'bob@away.example', '--days', '0');
      assert.equal(days.code, 1);
      assert.match(days.stderr, /days must be a whole number from 1 to 90/);
    });
  });
}
