// The web app's sessions (directory/web-sessions.ts) on both backends: what starts one, what ends
// it (signing out, idle time, the longest life, `holdfast user kick`, a new password, a disabled or
// removed account), and the cookie's rules (CSRF token on changing requests, same origin only); and
// what the user does with their own sessions from the settings (OwnWebSessions): list them, end one
// or all others, change the password keeping only the current one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  csrfTokenOf,
  OwnWebSessions,
  type WebSessionRequest,
  WebSessions,
  webSessionLimits,
} from '../../src/directory/web-sessions.ts';
import type { Principal } from '../../src/directory/directory.ts';
import type { TenantDirectory } from '../../src/directory/tenant-directory.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const password = 'Wonderland-42';
const origin = 'https://mail.test.example';

for (const name of backendNames) {
  describe(`web sessions on ${name}`, { skip: skipFor(name) }, () => {
    let s: TestStore;
    let tenant: TenantDirectory;
    let clock = 1_700_000_000_000;
    let sessions: WebSessions;
    const request = (id: string, extra: Partial<WebSessionRequest> = {}): WebSessionRequest => ({
      cookie: `other=1; __Host-hf_session=${id}`,
      csrfToken: undefined,
      method: 'GET',
      origin: undefined,
      ownOrigin: origin,
      secure: true,
      ...extra,
    });
    const signIn = async (address: string) => {
      const principal = (await s.directory.authenticate(address, password)) as Principal;
      return sessions.create(principal, { remoteAddress: '127.0.0.1', userAgent: 'test' });
    };
    const holds = async (id: string, extra: Partial<WebSessionRequest> = {}) => {
      const found = await sessions.check(request(id, extra));
      return found?.ok ? found.principal.address : found ? found.status : undefined;
    };

    before(async () => {
      s = await createTestStore(name);
      await s.directory.addForest({ name: 'default' });
      await s.directory.addTenant({ name: 'default' });
      tenant = await s.directory.tenant('default');
      await tenant.addDomain('test.example');
      for (const user of ['alice', 'bob', 'carol', 'dave', 'erin'])
        await tenant.addPrincipal({ kind: 'user', address: `${user}@test.example`, password });
      sessions = new WebSessions(s.store.db, () => clock);
    });
    after(() => s.close());

    it('opens with the cookie, stores only a hash of the id, and ends when signed out', async () => {
      const started = await signIn('alice@test.example');
      assert.equal(await holds(started.id), 'alice@test.example');
      const rows = await s.store.db.selectFrom('web_sessions').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.notEqual(rows[0]!.id_hash, started.id);
      assert.ok(!JSON.stringify(rows).includes(started.id), 'the id itself is nowhere in the store');
      assert.equal(started.csrfToken, csrfTokenOf(started.id));
      assert.equal(await sessions.check({ ...request(started.id), cookie: 'other=1' }), undefined);
      assert.equal(await holds('not-a-session'), 401);
      assert.equal(await holds(started.id, { secure: false }), undefined, 'the plain-HTTP cookie name is another');
      await sessions.destroy(started.id);
      assert.equal(await holds(started.id), 401);
    });

    it('asks changing requests for the CSRF token and refuses other origins', async () => {
      const { id, csrfToken } = await signIn('alice@test.example');
      assert.equal(await holds(id, { method: 'POST' }), 403);
      assert.equal(await holds(id, { method: 'POST', csrfToken: csrfTokenOf('another id') }), 403);
      assert.equal(await holds(id, { method: 'POST', csrfToken }), 'alice@test.example');
      assert.equal(await holds(id, { method: 'DELETE', csrfToken }), 'alice@test.example');
      assert.equal(await holds(id, { origin: 'https://evil.example' }), 403);
      assert.equal(await holds(id, { origin: 'http://mail.test.example' }), 403, 'another scheme is another origin');
      assert.equal(await holds(id, { origin }), 'alice@test.example');
    });

    it('ends after the idle time, is kept alive by use, and ends at its longest life whatever the use', async () => {
      const { id } = await signIn('bob@test.example');
      clock += webSessionLimits.idleMs - 1000;
      assert.equal(await holds(id), 'bob@test.example', 'used just before the idle time ran out');
      clock += webSessionLimits.idleMs - 1000;
      assert.equal(await holds(id), 'bob@test.example', 'the use moved the expiry');
      clock += webSessionLimits.idleMs;
      assert.equal(await holds(id), 401, 'idle too long');

      const long = await signIn('bob@test.example');
      const end = clock + webSessionLimits.maxAgeMs;
      while (clock + webSessionLimits.idleMs / 2 < end) {
        clock += webSessionLimits.idleMs / 2;
        assert.equal(await holds(long.id), 'bob@test.example');
      }
      clock = end;
      assert.equal(await holds(long.id), 401, 'past the longest life');
    });

    it('ends on `holdfast user kick`, a new password, a disabled account and a removed one', async () => {
      const kicked = await signIn('carol@test.example');
      await tenant.endSessions('carol@test.example');
      assert.equal(await holds(kicked.id), 401);
      const again = await signIn('carol@test.example');
      assert.equal(await holds(again.id), 'carol@test.example', 'signing in again works');
      await tenant.setPassword('carol@test.example', 'Another-Password-77');
      assert.equal(await holds(again.id), 401);

      const dave = await signIn('dave@test.example');
      await tenant.updatePrincipal('dave@test.example', { disabled: true });
      assert.equal(await holds(dave.id), 401);
      await tenant.updatePrincipal('dave@test.example', { disabled: false });
      assert.equal(await holds(dave.id), 401, 'enabling the account again does not bring the session back');
      const later = await signIn('dave@test.example');
      await tenant.removePrincipal('dave@test.example');
      assert.equal(await holds(later.id), 401);
    });

    it("lists a user's own sessions, ends one or all others, and changes the password keeping the current one", async () => {
      const own = new OwnWebSessions(s.store.db, () => clock);
      const erin = async () => (await tenant.getPrincipal('erin@test.example')) as Principal;
      const here = await signIn('erin@test.example');
      const phone = await signIn('erin@test.example');
      const laptop = await signIn('erin@test.example');
      const bob = await signIn('bob@test.example');
      const listed = await own.list(await erin(), here.id);
      assert.equal(listed.length, 3, "erin's three, not bob's");
      assert.deepEqual(listed.filter((x) => x.current).length, 1, 'the current one is marked');
      assert.ok(listed.every((x) => /^[0-9a-f]{16}$/.test(x.handle) && !JSON.stringify(x).includes(here.id)));
      const phoneHandle = listed.find((x) => !x.current)!.handle;
      assert.equal(
        await own.endOne(await erin(), here.id, listed.find((x) => x.current)!.handle),
        false,
        'not this one',
      );
      const bobHandle = (await own.list((await tenant.getPrincipal('bob@test.example')) as Principal, bob.id))[0]!
        .handle;
      assert.equal(await own.endOne(await erin(), here.id, bobHandle), false, "another user's session is not found");
      assert.equal(await own.endOne(await erin(), here.id, phoneHandle), true);
      assert.equal((await own.list(await erin(), here.id)).length, 2);
      assert.equal(await own.endOthers(await erin(), here.id), 1);
      assert.deepEqual(
        [await holds(here.id), await holds(phone.id), await holds(laptop.id), await holds(bob.id)],
        ['erin@test.example', 401, 401, 'bob@test.example'],
      );

      const other = await signIn('erin@test.example');
      const before = await erin();
      await assert.rejects(own.changePassword(before, here.id, 'short'), /password too weak/);
      await own.changePassword(before, here.id, 'Kettle-Moon-Harbour-9');
      const after = await erin();
      assert.equal(after.sessionGeneration, before.sessionGeneration + 1, 'other sessions of every protocol end');
      assert.equal(await holds(here.id), 'erin@test.example', 'the current session goes on');
      assert.equal(await holds(other.id), 401);
      assert.equal(await s.directory.authenticate('erin@test.example', password), undefined);
      assert.equal(
        (await s.directory.authenticate('erin@test.example', 'Kettle-Moon-Harbour-9'))?.address,
        'erin@test.example',
      );
      assert.equal(await holds(bob.id), 'bob@test.example', "another user's session is untouched");
    });
  });
}
