// The service health probe's tenant lives alone in its own forest (health/checks/probe-account.ts):
// no other tenant may be added to or moved into that forest, and the probe's tenant never leaves it.
// Directory.addTenant and moveTenant enforce it for the CLI and the admin API alike.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Directory, probeTenantName } from '../../src/directory/directory.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { TestClock } from '../helpers/node.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

for (const name of backendNames) {
  describe(`the probe's forest on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let directory: Directory;

    before(async () => {
      t = await createTestStore(name);
      directory = new Directory(t.store.db, new TestClock().now);
      await directory.addForest({ name: 'default' });
      await directory.addForest({ name: probeTenantName });
      await directory.addTenant({ name: probeTenantName, forest: probeTenantName });
      await directory.addTenant({ name: 'contoso' });
    });
    after(() => t.close());

    it('takes no other tenant, added or moved', async () => {
      await assert.rejects(directory.addTenant({ name: 'fabrikam', forest: probeTenantName }), {
        code: 'reserved-forest',
        message: /forest "holdfast-probe" is the service health probe's own/,
      });
      await assert.rejects(directory.moveTenant('contoso', probeTenantName), { code: 'reserved-forest' });
      assert.equal((await directory.getTenant('contoso')).forest, 'default');
      assert.equal(
        (await directory.listTenants()).some((tenant) => tenant.name === 'fabrikam'),
        false,
      );
    });

    it("keeps the probe's tenant in it", async () => {
      await assert.rejects(directory.moveTenant(probeTenantName, 'default'), {
        code: 'reserved-forest',
        message: /stays in its own forest/,
      });
      assert.equal((await directory.getTenant(probeTenantName)).forest, probeTenantName);
    });
  });
}
