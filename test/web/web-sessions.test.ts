// The web app's sessions (directory/web-sessions.ts) on both backends: what starts one, what ends
// it (signing out, idle time, the longest life, `holdfast user kick`, a new password, a disabled or
// removed account), and the cookie's rules (CSRF token on changing requests, same origin only).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  csrfTokenOf,
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
      for (const user of ['alice', 'bob', 'carol', 'dave'])
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
  });
}
