// Mail routing's short cache of directory lookups (directory/lookup-cache.ts): how stale an answer
// may be. `elsewhere` is a second Directory on the same database, standing for the `holdfast` CLI
// or another node; `directory` is the server's own (the admin API changes through it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Directory } from '../../src/directory/directory.ts';
import { lookupCacheMs } from '../../src/directory/lookup-cache.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { TestClock } from '../helpers/node.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const password = 'Correct-Horse-7';

for (const name of backendNames) {
  describe(`routing lookups cache on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    const clock = new TestClock();
    let directory: Directory;
    let elsewhere: Directory;
    let routing: Directory;

    before(async () => {
      t = await createTestStore(name);
      directory = new Directory(t.store.db, clock.now);
      elsewhere = new Directory(t.store.db, clock.now);
      routing = directory.routing;
      await directory.addForest({ name: 'default' });
      await directory.addTenant({ name: 'contoso' });
      const contoso = await directory.tenant('contoso');
      await contoso.addDomain('contoso.example');
      await contoso.addPrincipal({ kind: 'user', address: 'alice@contoso.example', password });
      await contoso.addPrincipal({ kind: 'user', address: 'bob@contoso.example', password });
    });
    after(() => t.close());

    it('is one view per directory, which answers as the directory does', async () => {
      assert.equal(directory.routing, routing);
      assert.deepEqual(
        await routing.resolveAddress('Alice@contoso.example'),
        await directory.resolveAddress('alice@contoso.example'),
      );
      assert.deepEqual(await routing.findDomain('contoso.example'), await directory.findDomain('contoso.example'));
      assert.equal(await routing.findDomain('outside.example'), undefined);
    });

    it('sees an alias removed elsewhere within lookupCacheMs, and one removed through its directory at once', async () => {
      await (await elsewhere.tenant('contoso')).addAlias('al@contoso.example', 'alice@contoso.example');
      assert.equal((await routing.resolveAddress('al@contoso.example'))?.principal.address, 'alice@contoso.example');
      await (await elsewhere.tenant('contoso')).removeAlias('al@contoso.example');
      assert.ok(await routing.resolveAddress('al@contoso.example'), 'still routed from the cache');
      assert.equal(
        await directory.resolveAddress('al@contoso.example'),
        undefined,
        'the directory itself is never cached',
      );
      clock.advance(lookupCacheMs + 1);
      assert.equal(await routing.resolveAddress('al@contoso.example'), undefined, `gone after ${lookupCacheMs} ms`);

      await (await directory.tenant('contoso')).addAlias('bobby@contoso.example', 'bob@contoso.example');
      assert.ok(await routing.resolveAddress('bobby@contoso.example'));
      await (await directory.tenant('contoso')).removeAlias('bobby@contoso.example');
      assert.equal(
        await routing.resolveAddress('bobby@contoso.example'),
        undefined,
        'a change through the same directory clears the cache',
      );
    });

    it('never keeps an address that does not exist: a new mailbox takes mail at once', async () => {
      assert.equal(await routing.resolveAddress('carol@contoso.example'), undefined);
      await (await elsewhere.tenant('contoso')).addPrincipal({
        kind: 'user',
        address: 'carol@contoso.example',
        password,
      });
      assert.equal((await routing.resolveAddress('carol@contoso.example'))?.principal.address, 'carol@contoso.example');
    });

    it('keeps a domain that is not ours for lookupCacheMs, unless it is added through its directory', async () => {
      assert.equal(await routing.findDomain('fabrikam.example'), undefined);
      await (await elsewhere.tenant('contoso')).addDomain('fabrikam.example');
      assert.equal(await routing.findDomain('fabrikam.example'), undefined, 'the cached answer');
      clock.advance(lookupCacheMs + 1);
      assert.equal((await routing.findDomain('fabrikam.example'))?.name, 'fabrikam.example');

      assert.equal(await routing.findDomain('northwind.example'), undefined);
      await (await directory.tenant('contoso')).addDomain('northwind.example');
      assert.equal((await routing.findDomain('northwind.example'))?.name, 'northwind.example');
    });

    it('sees a disabled account and a changed quota like any other change; signing in never uses the cache', async () => {
      assert.equal((await routing.resolveAddress('bob@contoso.example'))?.principal.disabled, false);
      await (await elsewhere.tenant('contoso')).updatePrincipal('bob@contoso.example', {
        disabled: true,
        quotaBytes: 5000,
      });
      assert.equal(
        await directory.authenticate('bob@contoso.example', password),
        undefined,
        'a disabled account cannot sign in, at once',
      );
      assert.equal((await directory.resolveAddress('bob@contoso.example'))?.principal.disabled, true);
      clock.advance(lookupCacheMs + 1);
      const bob = (await routing.resolveAddress('bob@contoso.example'))?.principal;
      assert.deepEqual([bob?.disabled, bob?.quotaBytes], [true, 5000]);
    });

    it('keeps a forest limit for lookupCacheMs unless changed through its directory', async () => {
      const tenantId = (await directory.getTenant('contoso')).id;
      assert.equal((await routing.forestOfTenant(tenantId)).maxConnections, 1000);
      await elsewhere.setForest('default', { maxConnections: 10 });
      assert.equal((await routing.forestOfTenant(tenantId)).maxConnections, 1000);
      clock.advance(lookupCacheMs + 1);
      assert.equal((await routing.forestOfTenant(tenantId)).maxConnections, 10);
      await directory.setForest('default', { maxConnections: 20 });
      assert.equal((await routing.forestOfTenant(tenantId)).maxConnections, 20);
    });
  });
}
