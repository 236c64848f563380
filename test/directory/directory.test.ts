import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrapDirectory } from '../../src/directory/bootstrap.ts';
import type { TenantDirectory } from '../../src/directory/tenant-directory.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const password = 'Correct-Horse-7';

for (const name of backendNames) {
  describe(`directory on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let contoso: TenantDirectory;
    let fabrikam: TenantDirectory;

    before(async () => {
      t = await createTestStore(name);
      await t.directory.addForest({ name: 'default' });
      await t.directory.addForest({ name: 'eu-1', maxConnections: 50 });
      await t.directory.addTenant({ name: 'contoso' });
      await t.directory.addTenant({ name: 'fabrikam', forest: 'eu-1' });
      contoso = await t.directory.tenant('contoso');
      fabrikam = await t.directory.tenant('fabrikam');
      await contoso.addDomain('contoso.example');
      await contoso.addDomain('relay.contoso.example', 'internal-relay');
      await fabrikam.addDomain('fabrikam.example');
      await contoso.addPrincipal({ kind: 'user', address: 'Alice@Contoso.example', password, quotaBytes: 1_000_000 });
      await contoso.addPrincipal({ kind: 'user', address: 'bob@contoso.example', password });
      await fabrikam.addPrincipal({ kind: 'user', address: 'carol@fabrikam.example', password });
    });
    after(() => t.close());

    it('keeps forests and their limits, and puts each tenant in one', async () => {
      const forests = await t.directory.listForests();
      assert.deepEqual(
        forests.map((f) => [f.name, f.maxConnections, f.tenants]),
        [
          ['default', 1000, 1],
          ['eu-1', 50, 1],
        ],
      );
      assert.equal((await t.directory.getTenant('fabrikam')).forest, 'eu-1');
      assert.equal((await t.directory.setForest('eu-1', { maxConnections: 75 })).maxConnections, 75);
      await assert.rejects(t.directory.addTenant({ name: 'x', forest: 'nowhere' }), {
        code: 'unknown-forest',
        message: 'unknown resource forest "nowhere"',
      });
      await assert.rejects(t.directory.addTenant({ name: 'contoso' }), { code: 'duplicate-tenant' });
      await assert.rejects(t.directory.tenant('initech'), {
        code: 'unknown-tenant',
        message: 'unknown tenant "initech"',
      });
    });

    it('refuses duplicate domains and addresses, whoever owns them', async () => {
      await assert.rejects(fabrikam.addDomain('contoso.example'), { code: 'duplicate-domain' });
      await assert.rejects(contoso.addPrincipal({ kind: 'user', address: 'alice@contoso.example', password }), {
        code: 'duplicate-address',
        message: 'the address alice@contoso.example is already in use',
      });
      await assert.rejects(contoso.addAlias('bob@contoso.example', 'alice@contoso.example'), {
        code: 'duplicate-address',
      });
      await assert.rejects(contoso.addPrincipal({ kind: 'user', address: 'dave@unknown.example', password }), {
        code: 'unknown-domain',
      });
    });

    it("never lets one tenant see or touch another tenant's objects", async () => {
      await assert.rejects(contoso.getPrincipal('carol@fabrikam.example'), { code: 'unknown-address' });
      await assert.rejects(contoso.addPrincipal({ kind: 'user', address: 'eve@fabrikam.example', password }), {
        code: 'unknown-domain',
      });
      await assert.rejects(contoso.addAlias('boss@contoso.example', 'carol@fabrikam.example'), {
        code: 'unknown-address',
      });
      await assert.rejects(contoso.setPassword('carol@fabrikam.example', 'Another-pass-9'), { code: 'unknown-user' });
      await assert.rejects(contoso.removePrincipal('carol@fabrikam.example'), { code: 'unknown-address' });
      await assert.rejects(contoso.removeDomain('fabrikam.example'), { code: 'unknown-domain' });
      assert.deepEqual(
        (await fabrikam.listPrincipals()).map((p) => p.address),
        ['carol@fabrikam.example'],
      );
      assert.deepEqual(
        (await fabrikam.listDomains()).map((d) => d.name),
        ['fabrikam.example'],
      );
      assert.ok(await t.directory.authenticate('carol@fabrikam.example', password), 'carol still signs in');
    });

    it('stores passwords as scrypt hashes and checks them', async () => {
      const row = await t.store.db
        .selectFrom('principals')
        .select('password_hash')
        .where('address', '=', 'alice@contoso.example')
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash!, /^\$scrypt\$ln=15,r=8,p=1\$/);
      assert.ok(!row.password_hash!.includes(password));
      assert.equal(
        (await t.directory.authenticate('ALICE@contoso.example', password))?.address,
        'alice@contoso.example',
      );
      assert.equal(await t.directory.authenticate('alice@contoso.example', 'wrong-Password-1'), undefined);
      assert.equal(await t.directory.authenticate('nobody@contoso.example', password), undefined);
      await assert.rejects(contoso.addPrincipal({ kind: 'user', address: 'weak@contoso.example', password: 'short' }), {
        code: 'weak-password',
      });
      await assert.rejects(
        contoso.addPrincipal({ kind: 'user', address: 'weak@contoso.example', password: 'weak-weak-weak@contoso' }),
        {
          code: 'weak-password',
          message: /contains the account name/,
        },
      );
      await assert.rejects(contoso.addPrincipal({ kind: 'shared', address: 'info@contoso.example', password }), {
        code: 'password-not-allowed',
      });
      // Long enough and mixed, but among the first guesses of anyone who tries (zxcvbn's dictionaries).
      for (const guessable of ['Password123', 'Welcome2024', 'Qwertyuiop1']) {
        await assert.rejects(
          contoso.addPrincipal({ kind: 'user', address: 'guessable@contoso.example', password: guessable }),
          { code: 'weak-password', message: /easy to guess \(score [01] of 4/ },
          guessable,
        );
      }
    });

    it('resolves aliases to their principal', async () => {
      await contoso.addAlias('a.smith@contoso.example', 'alice@contoso.example');
      const resolved = await t.directory.resolveAddress('A.Smith@contoso.example');
      assert.equal(resolved?.principal.address, 'alice@contoso.example');
      assert.equal(resolved?.viaAlias, true);
      assert.equal(resolved?.principal.quotaBytes, 1_000_000);
      assert.equal((await t.directory.resolveAddress('alice@contoso.example'))?.viaAlias, false);
      assert.equal(await t.directory.resolveAddress('nobody@contoso.example'), undefined);
      assert.deepEqual(await contoso.listAliases(), [
        { alias: 'a.smith@contoso.example', target: 'alice@contoso.example' },
      ]);
    });

    it('expands nested groups once each and refuses loops', async () => {
      await contoso.addPrincipal({ kind: 'group', address: 'all@contoso.example' });
      await contoso.addPrincipal({ kind: 'group', address: 'sales@contoso.example' });
      await contoso.addPrincipal({ kind: 'group', address: 'emea@contoso.example' });
      await contoso.addGroupMember('all@contoso.example', 'sales@contoso.example');
      await contoso.addGroupMember('all@contoso.example', 'bob@contoso.example');
      await contoso.addGroupMember('sales@contoso.example', 'emea@contoso.example');
      await contoso.addGroupMember('sales@contoso.example', 'a.smith@contoso.example');
      await contoso.addGroupMember('emea@contoso.example', 'bob@contoso.example');
      await contoso.addGroupMember('emea@contoso.example', 'partner@outside.example');
      assert.deepEqual(await contoso.expandGroup('all@contoso.example'), [
        'alice@contoso.example',
        'bob@contoso.example',
        'partner@outside.example',
      ]);

      await assert.rejects(contoso.addGroupMember('emea@contoso.example', 'all@contoso.example'), {
        code: 'group-loop',
        message:
          'adding all@contoso.example to emea@contoso.example would make a loop: emea@contoso.example → all@contoso.example → sales@contoso.example → emea@contoso.example',
      });
      await assert.rejects(contoso.addGroupMember('all@contoso.example', 'all@contoso.example'), {
        code: 'group-loop',
      });
      await assert.rejects(contoso.addGroupMember('all@contoso.example', 'typo@contoso.example'), {
        code: 'unknown-address',
      });
      await assert.rejects(contoso.addGroupMember('all@contoso.example', 'bob@contoso.example'), {
        code: 'duplicate-member',
      });
      await assert.rejects(contoso.addGroupMember('bob@contoso.example', 'alice@contoso.example'), {
        code: 'unknown-group',
      });
    });

    it('removes a principal with its addresses and memberships', async () => {
      await contoso.addPrincipal({ kind: 'user', address: 'temp@contoso.example', password });
      await contoso.addAlias('temporary@contoso.example', 'temp@contoso.example');
      await contoso.addPrincipal({ kind: 'group', address: 'temps@contoso.example' });
      await contoso.addGroupMember('temps@contoso.example', 'temporary@contoso.example');
      await contoso.removePrincipal('temp@contoso.example', ['user']);
      assert.equal(await t.directory.resolveAddress('temporary@contoso.example'), undefined);
      assert.deepEqual(await contoso.membersOf('temps@contoso.example'), []);
      await assert.rejects(contoso.removeDomain('contoso.example'), { code: 'domain-in-use' });
      await contoso.removeDomain('relay.contoso.example');
      assert.equal(await t.directory.findDomain('relay.contoso.example'), undefined);
    });

    it('knows resources and shared mailboxes apart from users', async () => {
      await contoso.addPrincipal({ kind: 'room', address: 'board-room@contoso.example', displayName: 'Board room' });
      await contoso.addPrincipal({ kind: 'equipment', address: 'projector@contoso.example' });
      await contoso.addPrincipal({ kind: 'shared', address: 'support@contoso.example' });
      assert.deepEqual(
        (await contoso.listPrincipals(['room', 'equipment'])).map((p) => p.kind),
        ['room', 'equipment'],
      );
      await assert.rejects(contoso.setPassword('support@contoso.example', 'Shared-pass-99'), { code: 'unknown-user' });
      assert.equal(await t.directory.authenticate('support@contoso.example', ''), undefined);
    });

    it('grants users send-as and full access on a shared mailbox, within the tenant only', async () => {
      const support = await contoso.getPrincipal('support@contoso.example');
      const bob = await contoso.getPrincipal('bob@contoso.example');
      assert.equal(await t.directory.maySendAs(bob.id, support.id), false);
      assert.deepEqual(
        await contoso.grant('support@contoso.example', 'bob@contoso.example', { fullAccess: true, sendAs: true }),
        {
          mailbox: 'support@contoso.example',
          grantee: 'bob@contoso.example',
          fullAccess: true,
          sendAs: true,
        },
      );
      assert.equal(await t.directory.maySendAs(bob.id, support.id), true);
      assert.equal((await contoso.listGrants('support@contoso.example')).length, 1);
      await assert.rejects(
        contoso.grant('support@contoso.example', 'carol@fabrikam.example', { fullAccess: true, sendAs: false }),
        { code: 'unknown-user' },
      );
      await assert.rejects(
        contoso.grant('support@contoso.example', 'bob@contoso.example', { fullAccess: false, sendAs: false }),
        { code: 'invalid-grant' },
      );
      await contoso.revoke('support@contoso.example', 'bob@contoso.example');
      assert.equal(await t.directory.maySendAs(bob.id, support.id), false);
      await assert.rejects(contoso.revoke('support@contoso.example', 'bob@contoso.example'), { code: 'unknown-grant' });
    });
  });

  describe(`first-run bootstrap on ${name}`, { skip: skipFor(name) }, () => {
    it('creates forest, tenant, domain and a global admin once', async () => {
      const t = await createTestStore(name);
      try {
        const first = await bootstrapDirectory(t.directory, { domain: 'example.net' });
        assert.equal(first.created, true);
        assert.equal(first.adminAddress, 'admin@example.net');
        assert.ok(first.generatedPassword && first.generatedPassword.length >= 20);
        const admin = await t.directory.authenticate('admin@example.net', first.generatedPassword);
        assert.equal(admin?.role, 'global-admin');
        assert.deepEqual(await bootstrapDirectory(t.directory, { domain: 'example.net' }), { created: false });
        assert.equal((await t.directory.listTenants()).length, 1);
      } finally {
        await t.close();
      }
    });

    it('uses HOLDFAST_ADMIN_PASSWORD when it is strong enough', async () => {
      const t = await createTestStore(name);
      try {
        await assert.rejects(bootstrapDirectory(t.directory, { domain: 'example.net', adminPassword: 'admin' }), {
          code: 'weak-password',
          message: /^HOLDFAST_ADMIN_PASSWORD is not allowed: password too weak/,
        });
        const result = await bootstrapDirectory(t.directory, { domain: 'example.net', adminPassword: password });
        assert.equal(result.generatedPassword, undefined);
        assert.ok(await t.directory.authenticate('admin@example.net', password));
      } finally {
        await t.close();
      }
    });
  });
}
