// Sign-in storms (issue 17 item 2): every client reconnecting at once after an outage. Sixty imapflow
// clients sign in together and all get in while a session already signed in keeps answering; the
// second time the same passwords cost no KDF (the cache of verified sign-ins, shared by every
// protocol); `holdfast user passwd`, `user set --disable` and `user kick` from another process take
// effect at the next sign-in; and a full KDF queue is each protocol's temporary failure, naming the
// limit, while sign-ins the cache knows still get in. KDF work is counted by the process's real
// queue (directory/kdf-queue.ts), which every scrypt of the node goes through.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { imapflowClient } from '../helpers/imapflow.ts';
import { kdfQueue } from '../../src/directory/kdf-queue.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliOn, loopbackEnv } from '../helpers/cli.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Storm-Front-2026';
const newPassword = 'Calm-Harbour-2027';
const stormSize = 60;
const users = Array.from({ length: stormSize }, (_, i) => `storm${i}@test.example`);
/** A hang detector, not a timer: the machine is shared. */
const promptMs = 3_000;

const kdfCompleted = () => kdfQueue.stats().completed;

for (const name of backendNames) {
  describe(`sign-in storms on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let env: Record<string, string>;
    const { json: cli } = cliOn(() => env);

    const imapClient = (user: string, pass = password) => imapflowClient(t.port('imaps'), user, pass);
    const imapLogin = async (user: string, pass: string) => {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      const reply = await talk.command(`LOGIN "${user}" "${pass}"`);
      talk.close();
      return reply.split('\r\n').at(-1)!;
    };

    before(async () => {
      t = await startTestNode(name, { toml: '[limits]\nauth_failures = 1000\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await Promise.all(
        [...users, 'watcher@test.example', 'cold@test.example'].map((address) =>
          tenant.addPrincipal({ kind: 'user', address, password }),
        ),
      );
      env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
    });
    after(() => t?.stop());

    /** All users sign in at once with imapflow; meanwhile `watcher` sends NOOPs. */
    async function storm(watcher: ImapFlow) {
      let done = false;
      const noops: number[] = [];
      const watching = (async () => {
        while (!done) {
          const started = performance.now();
          await watcher.noop();
          noops.push(performance.now() - started);
        }
      })();
      const clients = users.map((user) => imapClient(user));
      const kdfBefore = kdfCompleted();
      const started = performance.now();
      const outcomes = await Promise.allSettled(clients.map((c) => c.connect()));
      const stormMs = performance.now() - started;
      const noopsDuringStorm = noops.length;
      done = true;
      await watching;
      const kdf = kdfCompleted() - kdfBefore;
      const signedIn = clients.filter((c) => c.authenticated).length;
      await Promise.all(clients.map((c) => c.logout().catch(() => {})));
      const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason));
      return { signedIn, failures, kdf, stormMs, noops, noopsDuringStorm };
    }

    it(`signs in ${stormSize} clients at once, none starved, while a signed-in session keeps answering`, async (ctx) => {
      const watcher = imapClient('watcher@test.example');
      await watcher.connect();
      const first = await storm(watcher);
      assert.deepEqual(first.failures, []);
      assert.equal(first.signedIn, stormSize);
      assert.ok(first.kdf >= stormSize, `each new password was checked once (${first.kdf} hashes)`);
      assert.ok(first.noopsDuringStorm > 0, 'the signed-in session was answered while the storm ran');
      const slowest = Math.max(...first.noops);
      assert.ok(slowest < promptMs, `slowest NOOP during the storm: ${slowest.toFixed(0)} ms`);
      ctx.diagnostic(
        `storm of ${stormSize}: ${first.stormMs.toFixed(0)} ms, ${first.kdf} hashes; ${first.noops.length} NOOPs meanwhile, slowest ${slowest.toFixed(0)} ms`,
      );

      // The same clients again (the outage ends a second time): no password is hashed again.
      const hits = t.node.holdfast.directory.credentials.stats().hits;
      const second = await storm(watcher);
      assert.deepEqual(second.failures, []);
      assert.equal(second.signedIn, stormSize);
      assert.equal(second.kdf, 0);
      ctx.diagnostic(`again from the cache: ${second.stormMs.toFixed(0)} ms, no hash`);
      assert.ok(t.node.holdfast.directory.credentials.stats().hits >= hits + stormSize);
      await watcher.logout();
    });

    it('refuses the old password at once after `holdfast user passwd` in another process', async () => {
      const user = users[0]!;
      assert.match(await imapLogin(user, password), /^t1 OK /);
      assert.equal((await cli('user', 'passwd', user, '--password', newPassword)).passwordChanged, true);
      assert.equal(await imapLogin(user, password), 't1 NO [AUTHENTICATIONFAILED] Invalid user name or password');
      assert.match(await imapLogin(user, newPassword), /^t1 OK /);
    });

    it('refuses a disabled account at once, even with a password it remembers', async () => {
      const user = users[1]!;
      assert.match(await imapLogin(user, password), /^t1 OK /);
      await cli('user', 'set', user, '--disable');
      assert.equal(await imapLogin(user, password), 't1 NO [AUTHENTICATIONFAILED] Invalid user name or password');
      await cli('user', 'set', user, '--enable');
      assert.match(await imapLogin(user, password), /^t1 OK /);
    });

    it('checks the password again after `holdfast user kick`', async () => {
      const user = users[2]!;
      assert.match(await imapLogin(user, password), /^t1 OK /);
      await cli('user', 'kick', user);
      const before = kdfCompleted();
      assert.match(await imapLogin(user, password), /^t1 OK /);
      assert.equal(kdfCompleted() - before, 1);
    });

    it("answers a full KDF queue with each protocol's temporary failure, naming the limit", async () => {
      const limits = { ...kdfQueue.settings };
      const text =
        'Too many sign-ins are waiting for a password check (limit [auth] kdf_queue = 1); try again in a few seconds';
      // One hash running and one waiting fill the queue; the next sign-in that needs the KDF is refused.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      kdfQueue.configure({ concurrency: 1, maxWaiting: 1 });
      const held = [kdfQueue.run(() => released), kdfQueue.run(() => released)];
      try {
        const cold = 'cold@test.example';
        assert.equal(await imapLogin(cold, password), `t1 NO [UNAVAILABLE] ${text}`);

        const { talk: pop3 } = await Pop3Talk.open(t.port('pop3s'), { tls: true });
        assert.match(await pop3.send(`USER ${cold}`), /^\+OK/);
        assert.equal(await pop3.send(`PASS ${password}`), `-ERR [SYS/TEMP] ${text}`);
        pop3.close();

        const { talk: smtp } = await SmtpTalk.open(t.port('submissions'), { tls: true });
        assert.match(await smtp.send('EHLO client.test.example'), /^250/);
        const plain = Buffer.from(`\0${cold}\0${password}`).toString('base64');
        assert.equal(await smtp.send(`AUTH PLAIN ${plain}`), `454 4.7.0 Temporary authentication failure: ${text}`);
        smtp.close();

        const response = await fetch(`http://127.0.0.1:${t.port('http')}/dav/calendars/${cold}/`, {
          method: 'PROPFIND',
          headers: { Authorization: `Basic ${Buffer.from(`${cold}:${password}`).toString('base64')}`, Depth: '0' },
        });
        assert.equal(response.status, 503);
        assert.equal(response.headers.get('retry-after'), '5');
        assert.equal(await response.text(), `${text}\n`);

        // A sign-in the cache knows needs no KDF: it gets in during the storm.
        assert.match(await imapLogin(users[3]!, password), /^t1 OK /);
        assert.equal(kdfQueue.stats().running + kdfQueue.stats().waiting, 2, 'only the held work is in the queue');
      } finally {
        release();
        await Promise.all(held);
        kdfQueue.configure(limits);
      }
      // The refusals were not failed guesses: the account signs in at once.
      assert.match(await imapLogin('cold@test.example', password), /^t1 OK /);
    });
  });
}

describe('[auth] settings on a running node', () => {
  let t: TestNode;
  const limits = { ...kdfQueue.settings };
  before(async () => {
    t = await startTestNode('sqlite', { toml: '[auth]\ncache_size = 0\nkdf_concurrency = 1\nkdf_queue = 7\n' });
    await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
      kind: 'user',
      address: 'plain@test.example',
      password,
    });
  });
  after(async () => {
    await t?.stop();
    kdfQueue.configure(limits);
  });

  it('sizes the KDF queue, turns the cache off, and shows the sign-in path in /metrics', async () => {
    assert.deepEqual(kdfQueue.settings, { concurrency: 1, maxWaiting: 7 });
    const before = kdfCompleted();
    for (let i = 0; i < 2; i++) {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      assert.match((await talk.command(`LOGIN "plain@test.example" "${password}"`)).split('\r\n').at(-1)!, /^t1 OK /);
      talk.close();
    }
    assert.equal(kdfCompleted() - before, 2, 'with cache_size = 0 every sign-in runs the KDF');
    const metrics = await (await fetch(`http://127.0.0.1:${t.port('http')}/metrics`)).text();
    assert.match(metrics, /^holdfast_auth_cache_lookups_total\{result="miss"\} [1-9]/m);
    assert.match(metrics, /^holdfast_kdf_computations_total [1-9]/m);
  });
});
