// The cache of verified sign-ins (directory/credential-cache.ts) as Directory.authenticate uses it:
// a repeat sign-in costs no KDF (counted by the process's real KDF queue, which every scrypt goes
// through), and anything that changes the account's row — a new password, disabling, `user kick` —
// is seen at the next sign-in, also when another Directory (the CLI, another node) made the change.
// Wrong passwords are never remembered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Directory } from '../../src/directory/directory.ts';
import { kdfQueue } from '../../src/directory/kdf-queue.ts';
import type { TenantDirectory } from '../../src/directory/tenant-directory.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { TestClock } from '../helpers/node.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const password = 'Correct-Horse-7';
const newPassword = 'Battery-Staple-9';

/** Password hashes computed (checks and new hashes) while `work` ran. */
async function kdfRuns<T>(work: () => Promise<T>): Promise<{ value: T; kdf: number }> {
  const before = kdfQueue.stats().completed;
  const value = await work();
  return { value, kdf: kdfQueue.stats().completed - before };
}

for (const name of backendNames) {
  describe(`cache of verified sign-ins on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    const clock = new TestClock();
    let directory: Directory;
    /** Another Directory on the same database: the `holdfast` CLI, or another node. */
    let elsewhere: Directory;
    let tenant: TenantDirectory;
    let otherTenant: TenantDirectory;
    const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina'].map((u) => `${u}@contoso.example`);

    before(async () => {
      t = await createTestStore(name);
      directory = new Directory(t.store.db, clock.now, { ttlMs: 60_000 });
      elsewhere = new Directory(t.store.db, clock.now);
      await directory.addForest({ name: 'default' });
      await directory.addTenant({ name: 'contoso' });
      tenant = await directory.tenant('contoso');
      otherTenant = await elsewhere.tenant('contoso');
      await tenant.addDomain('contoso.example');
      for (const user of users) await tenant.addPrincipal({ kind: 'user', address: user, password });
    });
    after(() => t.close());

    it('signs in a second time with the same password without running the KDF', async () => {
      const first = await kdfRuns(() => directory.authenticate('alice@contoso.example', password));
      assert.equal(first.value?.address, 'alice@contoso.example');
      assert.equal(first.kdf, 1);
      const hitsBefore = directory.credentials.stats().hits;
      const second = await kdfRuns(() => directory.authenticate('alice@contoso.example', password));
      assert.deepEqual(second.value, first.value);
      assert.equal(second.kdf, 0);
      // The address as the user types it reaches the same entry.
      const typed = await kdfRuns(() => directory.authenticate(' Alice@Contoso.EXAMPLE ', password));
      assert.equal(typed.value?.id, first.value?.id);
      assert.equal(typed.kdf, 0);
      assert.equal(directory.credentials.stats().hits, hitsBefore + 2);
    });

    it('never remembers a wrong password: each one costs a KDF', async () => {
      await directory.authenticate('bob@contoso.example', password);
      const entries = directory.credentials.stats().entries;
      for (let i = 0; i < 2; i++) {
        const wrong = await kdfRuns(() => directory.authenticate('bob@contoso.example', 'Wrong-Guess-1'));
        assert.equal(wrong.value, undefined);
        assert.equal(wrong.kdf, 1);
      }
      assert.equal(directory.credentials.stats().entries, entries);
      // An unknown user costs a KDF as well (the answer time does not tell which addresses exist);
      // the first one also makes the process's dummy hash.
      await directory.authenticate('nobody@contoso.example', password);
      assert.equal((await kdfRuns(() => directory.authenticate('nobody@contoso.example', password))).kdf, 1);
      // The right password still answers from the cache.
      assert.equal((await kdfRuns(() => directory.authenticate('bob@contoso.example', password))).kdf, 0);
    });

    it('refuses the old password at once after a new one is set, here or by another process', async () => {
      const carol = 'carol@contoso.example';
      assert.ok(await directory.authenticate(carol, password));
      await tenant.setPassword(carol, newPassword);
      const old = await kdfRuns(() => directory.authenticate(carol, password));
      assert.equal(old.value, undefined);
      assert.equal(old.kdf, 1, 'checked against the new hash, not answered from the cache');
      assert.ok(await directory.authenticate(carol, newPassword));
      assert.equal((await kdfRuns(() => directory.authenticate(carol, newPassword))).kdf, 0);

      // The CLI (another Directory, another process) sets the first password back: no message
      // reaches this cache, the changed row is enough.
      await otherTenant.setPassword(carol, password);
      assert.equal(await directory.authenticate(carol, newPassword), undefined);
      assert.ok(await directory.authenticate(carol, password));
    });

    it('never signs a disabled account in from the cache, and checks again once it is enabled', async () => {
      const dave = 'dave@contoso.example';
      assert.ok(await directory.authenticate(dave, password));
      await otherTenant.updatePrincipal(dave, { disabled: true });
      const disabled = await kdfRuns(() => directory.authenticate(dave, password));
      assert.equal(disabled.value, undefined);
      assert.equal(disabled.kdf, 1, 'refused in the time of a wrong password');
      assert.equal(await directory.authenticateFromCache(dave, password), undefined);
      await otherTenant.updatePrincipal(dave, { disabled: false });
      const enabled = await kdfRuns(() => directory.authenticate(dave, password));
      assert.equal(enabled.value?.disabled, false);
      assert.equal(enabled.kdf, 1, 'the entry went with the disabling');
    });

    it('drops the entry on `holdfast user kick` (a new session generation)', async () => {
      const erin = 'erin@contoso.example';
      const before = await directory.authenticate(erin, password);
      await otherTenant.endSessions(erin);
      const after = await kdfRuns(() => directory.authenticate(erin, password));
      assert.equal(after.kdf, 1);
      assert.equal(after.value?.sessionGeneration, before!.sessionGeneration + 1);
    });

    it('answers from the cache alone, never running the KDF, only for a sign-in it remembers', async () => {
      const frank = 'frank@contoso.example';
      const cold = await kdfRuns(() => directory.authenticateFromCache(frank, password));
      assert.deepEqual(cold, { value: undefined, kdf: 0 });
      await directory.authenticate(frank, password);
      const warm = await kdfRuns(() => directory.authenticateFromCache(frank, password));
      assert.equal(warm.value?.address, frank);
      assert.equal(warm.kdf, 0);
      assert.deepEqual(await kdfRuns(() => directory.authenticateFromCache(frank, 'Wrong-Guess-1')), {
        value: undefined,
        kdf: 0,
      });
    });

    it('forgets a sign-in after cache_ttl', async () => {
      const gina = 'gina@contoso.example';
      await directory.authenticate(gina, password);
      clock.advance(59_000);
      assert.equal((await kdfRuns(() => directory.authenticate(gina, password))).kdf, 0);
      clock.advance(2_000);
      assert.equal((await kdfRuns(() => directory.authenticate(gina, password))).kdf, 1);
    });

    it('keeps at most cache_size sign-ins, the least recently used leaving first; 0 keeps none', async () => {
      const small = new Directory(t.store.db, clock.now, { maxEntries: 2 });
      const [a, b, c] = users as [string, string, string];
      for (const user of [a, b, c]) await small.authenticate(user, password);
      assert.equal(small.credentials.stats().entries, 2);
      assert.equal((await kdfRuns(() => small.authenticate(c, password))).kdf, 0);
      assert.equal((await kdfRuns(() => small.authenticate(a, password))).kdf, 1, 'the oldest left');

      const off = new Directory(t.store.db, clock.now, { maxEntries: 0 });
      await off.authenticate(a, password);
      assert.equal((await kdfRuns(() => off.authenticate(a, password))).kdf, 1);
      assert.equal(off.credentials.stats().entries, 0);
    });

    it('checks the same credentials arriving together once', async () => {
      const fresh = new Directory(t.store.db, clock.now);
      const storm = await kdfRuns(() =>
        Promise.all(Array.from({ length: 8 }, () => fresh.authenticate('alice@contoso.example', password))),
      );
      assert.ok(storm.value.every((p) => p?.address === 'alice@contoso.example'));
      assert.equal(storm.kdf, 1);
      const wrong = await kdfRuns(() =>
        Promise.all([
          fresh.authenticate('alice@contoso.example', 'Wrong-Guess-1'),
          fresh.authenticate('alice@contoso.example', 'Wrong-Guess-2'),
        ]),
      );
      assert.deepEqual(wrong, { value: [undefined, undefined], kdf: 2 }, 'different passwords are different checks');
    });
  });
}
