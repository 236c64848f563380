// `holdfast rules attachments`: an administrator blocks attachment types for a tenant (a list, the
// default list, both), reads them back, turns the rule off; a word that is not an extension is refused
// naming it and changes nothing. `holdfast rules external-banner`: the warning on mail from outside
// turned on with the default text or one given, shown, turned off; other tenants are not touched.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { defaultBlockedExtensions } from '../../src/flow/intake/attachment-filter.ts';
import { defaultBannerText } from '../../src/flow/intake/external-banner.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliInstallation } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast rules attachments and external-banner on ${name}`, { skip: skipFor(name) }, () => {
    const { holdfast, json } = cliInstallation(name, 'acme.example');

    before(async () => {
      await json('tenant', 'add', 'contoso');
    });

    it('blocks attachment types, shows them and turns the rule off', async () => {
      assert.match(
        (await holdfast('rules', 'attachments', 'contoso')).stdout,
        /tenant contoso blocks no attachment types/,
      );
      const set = await json('rules', 'attachments', 'contoso', '--block', 'EXE, .js,vbs,exe');
      assert.deepEqual(set.blocked, ['exe', 'js', 'vbs']);
      assert.equal(
        (await holdfast('rules', 'attachments', 'contoso')).stdout.trim(),
        'tenant contoso blocks attachments ending in: .exe .js .vbs',
      );
      assert.deepEqual((await json('rules', 'attachments', 'default')).blocked, [], 'another tenant untouched');

      const withDefault = await json('rules', 'attachments', 'contoso', '--block', 'default,zip');
      assert.deepEqual(withDefault.blocked, [...defaultBlockedExtensions, 'zip'].sort());
      assert.ok(withDefault.blocked.includes('scr') && withDefault.blocked.includes('lnk'));

      const bad = await holdfast('rules', 'attachments', 'contoso', '--block', 'exe,../x');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /"\.\.\/x" is not a file name extension/);
      const both = await holdfast('rules', 'attachments', 'contoso', '--block', 'exe', '--off');
      assert.equal(both.code, 1);
      assert.match(both.stderr, /give one of --block and --off/);
      assert.ok((await json('rules', 'attachments', 'contoso')).blocked.includes('zip'), 'unchanged by the refusals');

      assert.deepEqual((await json('rules', 'attachments', 'contoso', '--off')).blocked, []);
    });

    it('turns the external banner on, with the default text or one given, and off', async () => {
      assert.deepEqual(await json('rules', 'external-banner', 'contoso'), { tenant: 'contoso', on: false, text: null });
      assert.equal((await json('rules', 'external-banner', 'contoso', '--on')).text, defaultBannerText);
      const own = await json('rules', 'external-banner', 'contoso', '--on', '--text', 'Outside mail: take care.');
      assert.deepEqual(own, { tenant: 'contoso', on: true, text: 'Outside mail: take care.' });
      assert.equal(
        (await holdfast('rules', 'external-banner', 'contoso')).stdout.trim(),
        'on: Outside mail: take care.',
      );
      const textAlone = await holdfast('rules', 'external-banner', 'contoso', '--text', 'x');
      assert.equal(textAlone.code, 1);
      assert.match(textAlone.stderr, /--text goes with --on/);
      const empty = await holdfast('rules', 'external-banner', 'contoso', '--on', '--text', '  ');
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /the banner text is empty/);
      assert.equal((await json('rules', 'external-banner', 'default')).on, false, 'another tenant untouched');
      assert.equal((await json('rules', 'external-banner', 'contoso', '--off')).on, false);
      assert.match(
        (await holdfast('rules', 'external-banner', 'contoso')).stdout,
        /tenant contoso puts no warning on mail from outside/,
      );
    });
  });
}
