// `holdfast tenant show|set`: an administrator turns forwarding outside the organisation off and on
// again for a tenant and reads it back; a value that is neither allow nor block is refused in one line.
// `holdfast rules put|show|delete`: the organisation's Sieve script, refused when it does not compile;
// `holdfast rules disclaimer`: its text set, shown and removed.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliInstallation } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`holdfast tenant settings on ${name}`, { skip: skipFor(name) }, () => {
    const { holdfast, json, backend } = cliInstallation(name, 'acme.example');

    before(async () => {
      await json('tenant', 'add', 'contoso');
    });

    it('blocks and allows external forwarding, per tenant', async () => {
      assert.equal((await json('tenant', 'show', 'default')).settings.externalForwarding, 'allow');
      const set = await json('tenant', 'set', 'default', '--external-forwarding', 'block');
      assert.equal(set.settings.externalForwarding, 'block');
      const shown = await holdfast('tenant', 'show', 'default');
      assert.match(shown.stdout, /^external forwarding: block \(users' rules may not forward mail outside/m);
      assert.equal((await json('tenant', 'show', 'contoso')).settings.externalForwarding, 'allow');
      assert.equal(
        (await json('tenant', 'set', 'default', '--external-forwarding', 'allow')).settings.externalForwarding,
        'allow',
      );
    });

    it('refuses a value it does not know and an unknown tenant', async () => {
      const bad = await holdfast('tenant', 'set', 'default', '--external-forwarding', 'sometimes');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /external forwarding is "allow" or "block", not "sometimes"/);
      const nothing = await holdfast('tenant', 'set', 'default');
      assert.equal(nothing.code, 1);
      const unknown = await holdfast('tenant', 'show', 'nobody');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /unknown tenant "nobody"/);
    });

    it('puts, shows and deletes the organisation rules; a script with an error is refused', async () => {
      const file = join(backend().dataDir, 'org.sieve');
      await writeFile(file, 'require "fileinto";\nif header :contains "subject" "spam" { fileinto "Junk"; }\n');
      assert.equal((await json('rules', 'put', 'default', file)).tenant, 'default');
      const shown = await holdfast('rules', 'show', 'default');
      assert.match(shown.stdout, /fileinto "Junk"/);
      await writeFile(file, 'if header :contains "subject" "x" { fileinto "Junk"; }\n');
      const bad = await holdfast('rules', 'put', 'default', file);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /the script is not valid: line 1/);
      assert.match((await holdfast('rules', 'show', 'default')).stdout, /require "fileinto"/, 'the old one kept');
      assert.equal((await json('rules', 'delete', 'default')).deleted, true);
      const none = await holdfast('rules', 'show', 'default');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /tenant default has no rules/);
    });

    it('sets, shows and removes the disclaimer', async () => {
      assert.match((await holdfast('rules', 'disclaimer', 'default')).stdout, /tenant default has no disclaimer/);
      const set = await json('rules', 'disclaimer', 'default', '--text', 'Confidential.');
      assert.equal(set.disclaimer, 'Confidential.');
      assert.equal((await holdfast('rules', 'disclaimer', 'default')).stdout.trim(), 'Confidential.');
      const both = await holdfast('rules', 'disclaimer', 'default', '--text', 'x', '--off');
      assert.equal(both.code, 1);
      assert.equal((await json('rules', 'disclaimer', 'default', '--off')).disclaimer, null);
    });
  });
}
