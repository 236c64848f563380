// The admin API (docs/administration.md, "Admin API") over real HTTP against a node on SQLite and on
// PostgreSQL: users, domains with their DNS records and a live check (against the DNS stub on
// loopback), the queue and message trace; each tenant administrator sees and changes their own
// tenant only (another tenant's user, domain, queue entry or trace is 404, never a hint), users are
// refused; bad input is 400 naming the field and changes nothing; the web app's session cookie works
// with its CSRF header and is refused without it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Lighthouse-77';
const basic = (user: string, pass = password) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const globalAdmin = basic('admin@test.example', adminPassword);
const boss = basic('boss@acme.example');
const chief = basic('chief@globex.example');

// biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the answer it checks
type Answer = { status: number; json: any; headers: Headers };

for (const backend of backendNames) {
  describe(`admin API (${backend})`, { skip: skipFor(backend) }, () => {
    let t: TestNode;
    let http: string;

    const call = async (
      method: string,
      path: string,
      options: { auth?: string; body?: unknown; headers?: Record<string, string> } = {},
    ): Promise<Answer> => {
      const response = await fetch(`${http}${path}`, {
        method,
        headers: {
          ...(options.auth ? { Authorization: options.auth } : {}),
          ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...options.headers,
        },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
    };
    const as = (auth: string) => ({
      get: (path: string) => call('GET', path, { auth }),
      post: (path: string, body: unknown = {}) => call('POST', path, { auth, body }),
      patch: (path: string, body: unknown) => call('PATCH', path, { auth, body }),
      delete: (path: string) => call('DELETE', path, { auth }),
    });
    const send = (to: string[], subject: string) =>
      nodemailer
        .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, tls: { rejectUnauthorized: false } })
        .sendMail({ from: 'mallory@remote.example', to, subject, text: 'hello' });
    /** The queue message id of the message with this subject (as the global administrator sees it). */
    const queued = async (subject: string): Promise<number> => {
      const { json } = await as(globalAdmin).get('/admin/queue?all=true&limit=500');
      const entry = json.value.find((e: { subject: string }) => e.subject === subject);
      assert.ok(entry, `no queue entry "${subject}"`);
      return entry.messageId;
    };

    before(async () => {
      // No queue role: mail stays queued for the queue tests.
      t = await startTestNode(backend, { roles: ['smtp', 'http'] });
      http = `http://127.0.0.1:${t.port('http')}`;
      const { directory } = t.node.holdfast;
      for (const [tenant, domain, admin, user] of [
        ['acme', 'acme.example', 'boss', 'ann'],
        ['globex', 'globex.example', 'chief', 'gus'],
      ] as const) {
        await directory.addTenant({ name: tenant });
        const scope = await directory.tenant(tenant);
        await scope.addDomain(domain);
        await scope.addPrincipal({ kind: 'user', address: `${admin}@${domain}`, password, role: 'tenant-admin' });
        await scope.addPrincipal({ kind: 'user', address: `${user}@${domain}`, password, displayName: user });
      }
      const own = await directory.tenant('default');
      await own.addPrincipal({ kind: 'user', address: 'ivan@test.example', password });
      await send(['ann@acme.example'], 'for ann');
      await send(['gus@globex.example'], 'for gus');
      await send(['ann@acme.example', 'gus@globex.example'], 'for both');
    });
    after(async () => {
      await t?.stop();
    });

    it('lists, searches and pages users, each tenant administrator their own tenant', async () => {
      const own = await as(boss).get('/admin/users');
      assert.equal(own.status, 200);
      assert.equal(own.headers.get('cache-control'), 'no-store');
      assert.deepEqual(
        own.json.value.map((u: { address: string }) => u.address),
        ['ann@acme.example', 'boss@acme.example'],
      );
      assert.equal(own.json.value[0].tenant, 'acme');
      const page = await as(globalAdmin).get('/admin/users?limit=2&offset=1');
      assert.equal(page.json.total, 6);
      assert.deepEqual(
        page.json.value.map((u: { address: string }) => u.address),
        ['ann@acme.example', 'boss@acme.example'],
      );
      const found = await as(globalAdmin).get('/admin/users?search=GUS');
      assert.deepEqual(
        found.json.value.map((u: { address: string }) => u.address),
        ['gus@globex.example'],
      );
      assert.deepEqual((await as(boss).get('/admin/users?search=gus')).json.value, []);
      assert.equal((await as(boss).get('/admin/users?tenant=globex')).status, 404);
      assert.equal((await as(globalAdmin).get('/admin/users?tenant=globex')).json.total, 2);
    });

    it("answers another tenant's user as one that does not exist, and changes nothing of it", async () => {
      const foreign = await as(chief).get('/admin/users/ann@acme.example');
      const missing = await as(chief).get('/admin/users/ann@nowhere.example');
      assert.equal(foreign.status, 404);
      assert.deepEqual(foreign.json, {
        error: { ...missing.json.error, message: missing.json.error.message.replace('nowhere', 'acme') },
      });
      assert.equal((await as(chief).patch('/admin/users/ann@acme.example', { disabled: true })).status, 404);
      assert.equal((await as(chief).post('/admin/users/ann@acme.example/password', {})).status, 404);
      assert.equal(
        (await as(chief).post('/admin/users', { address: 'spy@acme.example', password: 'Quiet-Otter-93' })).status,
        404,
      );
      assert.equal((await as(chief).patch('/admin/users/admin@test.example', { name: 'x' })).status, 404);
      const ann = await as(boss).get('/admin/users/ann@acme.example');
      assert.equal(ann.json.disabled, false);
      assert.equal((await as(boss).get('/admin/users/spy@acme.example')).status, 404);
    });

    it('refuses users and wrong passwords, asking for Basic only without a session', async () => {
      const user = await as(basic('ivan@test.example')).get('/admin/users');
      assert.equal(user.status, 403);
      const anonymous = await call('GET', '/admin/users');
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal((await as(basic('boss@acme.example', 'wrong-password')).get('/admin/users')).status, 401);
    });

    it('creates a user who then signs in, changes name, quota and role, disables, enables and resets the password', async () => {
      const created = await as(boss).post('/admin/users', { address: 'new@acme.example', name: 'New', quota: '2GB' });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.equal(created.json.tenant, 'acme');
      assert.equal(created.json.quota, 2_000_000_000);
      const generated = created.json.generatedPassword as string;
      assert.ok(generated.length >= 10);
      const signIn = (pass: string) =>
        call('POST', '/mail/api/login', { body: { username: 'new@acme.example', password: pass } });
      assert.equal((await signIn(generated)).status, 200);

      const changed = await as(boss).patch('/admin/users/new@acme.example', {
        name: 'Newton',
        quota: null,
        role: 'tenant-admin',
      });
      assert.equal(changed.status, 200);
      assert.deepEqual([changed.json.name, changed.json.quota, changed.json.role], ['Newton', null, 'tenant-admin']);
      assert.equal((await as(boss).patch('/admin/users/new@acme.example', { disabled: true })).json.disabled, true);
      assert.equal((await signIn(generated)).status, 401);
      assert.equal((await as(boss).patch('/admin/users/new@acme.example', { disabled: false })).json.disabled, false);
      assert.equal((await signIn(generated)).status, 200);

      const reset = await as(boss).post('/admin/users/new@acme.example/password', { password: 'Copper-Kettle-48' });
      assert.equal(reset.status, 200, JSON.stringify(reset.json));
      assert.equal(reset.json.generatedPassword, undefined);
      assert.equal((await signIn(generated)).status, 401);
      assert.equal((await signIn('Copper-Kettle-48')).status, 200);
    });

    it('keeps a tenant administrator from making or changing global administrators', async () => {
      const promote = await as(boss).patch('/admin/users/ann@acme.example', { role: 'global-admin' });
      assert.equal(promote.status, 403);
      assert.equal(promote.json.error.code, 'role');
      assert.equal(
        (await as(boss).post('/admin/users', { address: 'root@acme.example', role: 'global-admin' })).status,
        403,
      );
      assert.equal((await as(boss).get('/admin/users/root@acme.example')).status, 404);
      // A global administrator whose address is in the tenant.
      assert.equal((await as(globalAdmin).post('/admin/users', { address: 'op@acme.example' })).status, 201);
      assert.equal((await as(globalAdmin).patch('/admin/users/op@acme.example', { role: 'global-admin' })).status, 200);
      const reset = await as(boss).post('/admin/users/op@acme.example/password', {});
      assert.equal(reset.status, 403);
      assert.equal(reset.json.error.code, 'global-admin-target');
      assert.equal((await as(boss).patch('/admin/users/op@acme.example', { disabled: true })).status, 403);
    });

    it('answers bad input with 400 naming the field, and changes nothing', async () => {
      const cases: [string, string, unknown, string][] = [
        ['POST', '/admin/users', { address: 'q@acme.example', quota: 'lots' }, 'quota'],
        ['POST', '/admin/users', { address: 'q@acme.example', quota: '0MB' }, 'quota'],
        ['POST', '/admin/users', { address: 'q@acme.example', quota: 0 }, 'quota'],
        ['POST', '/admin/users', { address: 'q@acme.example', password: 'short' }, 'password'],
        ['POST', '/admin/users', { address: 'not an address' }, 'address'],
        ['POST', '/admin/users', { address: 'q@acme.example', role: 'boss' }, 'role'],
        ['POST', '/admin/users', { address: 'q@acme.example', colour: 'red' }, 'colour'],
        ['POST', '/admin/users', { address: 42 }, 'address'],
        ['PATCH', '/admin/users/ann@acme.example', { quota: '5GB', role: 'boss' }, 'role'],
        ['PATCH', '/admin/users/ann@acme.example', { name: 'Ann', disabled: 'yes' }, 'disabled'],
        ['PATCH', '/admin/users/ann@acme.example', {}, 'body'],
        ['POST', '/admin/domains', { name: 'bad domain' }, 'name'],
        ['POST', '/admin/domains', { name: 'new.acme.example', kind: 'relay' }, 'kind'],
      ];
      for (const [method, path, body, field] of cases) {
        const answer = await call(method, path, { auth: boss, body });
        assert.equal(answer.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
        assert.equal(answer.json.error.code, 'invalid-field');
        assert.equal(answer.json.error.field, field, answer.json.error.message);
        assert.ok(answer.json.error.message.startsWith(`${field}: `), answer.json.error.message);
      }
      assert.equal((await as(boss).get('/admin/users/q@acme.example')).status, 404);
      const ann = (await as(boss).get('/admin/users/ann@acme.example')).json;
      assert.deepEqual([ann.name, ann.quota, ann.disabled], ['ann', null, false]);
      assert.equal((await as(boss).get('/admin/users?limit=0')).json.error.field, 'limit');
      assert.equal((await as(boss).get('/admin/queue?state=lost')).json.error.field, 'state');
      assert.equal((await as(boss).get('/admin/trace?since=yesterday')).json.error.field, 'since');
      assert.equal((await as(boss).get('/admin/trace')).json.error.field, 'query');
    });

    it('answers what Fastify refuses before a route runs in the same shape: a body not JSON, a request the API has not', async () => {
      const notJson = await fetch(`${http}/admin/users`, {
        method: 'POST',
        headers: { Authorization: boss, 'Content-Type': 'application/json' },
        body: '{"address": ',
      });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.headers.get('cache-control'), 'no-store');
      const refusal = (await notJson.json()) as { error: { code: string; message: string } };
      assert.equal(refusal.error.code, 'invalid-json');
      assert.match(refusal.error.message, /JSON/);
      const missing = await call('DELETE', '/admin/nothing-here/x', { auth: boss });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.json, {
        error: {
          code: 'not-found',
          message: 'the admin API has no DELETE /admin/nothing-here/x; see docs/administration.md for its requests',
        },
      });
      // Elsewhere Fastify's own answer stays.
      const elsewhere = await fetch(`${http}/no-such-page`);
      assert.equal(elsewhere.status, 404);
      assert.equal(((await elsewhere.json()) as { error: string }).error, 'Not Found');
    });

    it("lists and adds domains in the administrator's tenant; another tenant's domain is 404", async () => {
      const own = await as(boss).get('/admin/domains');
      assert.deepEqual(
        own.json.value.map(({ name, kind, tenant }: Record<string, string>) => ({ name, kind, tenant })),
        [{ name: 'acme.example', kind: 'authoritative', tenant: 'acme' }],
      );
      assert.ok(own.json.value[0].addresses >= 2);
      const all = await as(globalAdmin).get('/admin/domains');
      assert.deepEqual(
        all.json.value.map((d: { name: string }) => d.name),
        ['acme.example', 'globex.example', 'test.example'],
      );
      const added = await as(boss).post('/admin/domains', { name: 'Shop.Acme.Example', kind: 'internal-relay' });
      assert.equal(added.status, 201);
      assert.deepEqual(added.json, { name: 'shop.acme.example', kind: 'internal-relay', tenant: 'acme', addresses: 0 });
      assert.equal((await as(boss).post('/admin/domains', { name: 'x.example', tenant: 'globex' })).status, 404);
      assert.equal((await as(chief).delete('/admin/domains/shop.acme.example')).status, 404);
      assert.equal((await as(chief).get('/admin/domains/acme.example/dns')).status, 404);
      assert.equal((await as(chief).get('/admin/domains/acme.example/dns/check')).status, 404);
      assert.equal((await as(boss).delete('/admin/domains/shop.acme.example')).status, 200);
      const inUse = await as(boss).delete('/admin/domains/acme.example');
      assert.equal(inUse.status, 409);
      assert.equal(inUse.json.error.code, 'domain-in-use');
    });

    it("gives a domain's DNS records and checks them live against DNS", async () => {
      const dns = await as(boss).get('/admin/domains/acme.example/dns');
      assert.equal(dns.status, 200);
      const records = dns.json.records as { name: string; type: string; value: string }[];
      assert.ok(records.some((r) => r.type === 'MX' && r.value === '10 mail.test.example.'));
      assert.ok(records.some((r) => r.type === 'TXT' && r.value.startsWith('v=DKIM1')));
      assert.match(dns.json.zone, /acme\.example\. IN MX 10 mail\.test\.example\./);
      t.dns.zone(records);
      const published = await as(boss).get('/admin/domains/acme.example/dns/check');
      assert.equal(published.status, 200);
      assert.equal(
        published.json.published,
        true,
        JSON.stringify(published.json.records.filter((r: { status: string }) => r.status !== 'ok')),
      );
      t.dns.zone(records.filter((r) => !r.name.startsWith('_dmarc.')));
      const missing = await as(boss).get('/admin/domains/acme.example/dns/check');
      assert.equal(missing.json.published, false);
      const dmarc = missing.json.records.find((r: { name: string }) => r.name === '_dmarc.acme.example');
      assert.equal(dmarc.status, 'missing');
      assert.ok(
        t.dns.questions.some((q) => q.endsWith('acme.example')),
        'asked the stub',
      );
    });

    it("shows each tenant administrator their tenant's queue only, and acts on their own messages", async () => {
      const forAnn = await queued('for ann');
      const forGus = await queued('for gus');
      const forBoth = await queued('for both');
      const own = await as(boss).get('/admin/queue');
      assert.deepEqual(
        own.json.value.map((e: { subject: string; recipient: string }) => `${e.subject} → ${e.recipient}`).sort(),
        ['for ann → ann@acme.example', 'for both → ann@acme.example'],
      );
      const page = await as(globalAdmin).get('/admin/queue?limit=1&offset=1');
      assert.equal(page.json.value.length, 1);
      assert.equal(page.json.more, true);
      assert.equal((await as(chief).get(`/admin/queue/${forAnn}`)).status, 404);
      for (const verb of ['retry', 'hold', 'release', 'bounce'])
        assert.equal((await as(chief).post(`/admin/queue/${forAnn}/${verb}`)).status, 404, verb);
      assert.equal((await as(boss).get(`/admin/queue/${forAnn}`)).json.held, false, 'nothing changed');

      const shared = await as(boss).get(`/admin/queue/${forBoth}`);
      assert.deepEqual(
        shared.json.recipients.map((r: { recipient: string }) => r.recipient),
        ['ann@acme.example'],
      );
      assert.ok(!JSON.stringify(shared.json.trace).includes('gus@'), 'no trace of the other tenant');
      const sharedHold = await as(boss).post(`/admin/queue/${forBoth}/hold`);
      assert.equal(sharedHold.status, 403);
      assert.equal(sharedHold.json.error.code, 'shared-message');
      assert.equal((await as(globalAdmin).post(`/admin/queue/${forBoth}/hold`)).json.held, true);

      assert.equal((await as(boss).post(`/admin/queue/${forAnn}/hold`)).json.held, true);
      assert.equal((await as(boss).get(`/admin/queue/${forAnn}`)).json.held, true);
      assert.equal((await as(boss).post(`/admin/queue/${forAnn}/release`)).json.held, false);
      assert.equal((await as(boss).post(`/admin/queue/${forAnn}/retry`)).json.retried, 1);
      const events = (await as(boss).get(`/admin/queue/${forAnn}`)).json.trace.map((e: { event: string }) => e.event);
      assert.deepEqual(events.slice(-3), ['held', 'released', 'retry']);
      assert.equal((await as(chief).post(`/admin/queue/${forGus}/bounce`)).json.bounced, 1);
      const bounced = await as(chief).get(`/admin/queue/${forGus}`);
      assert.equal(bounced.json.recipients[0].state, 'failed');
      assert.equal((await as(boss).get('/admin/queue/999999')).status, 404);
    });

    it('traces messages by sender, recipient and time, within the tenant', async () => {
      const names = (answer: Answer) => answer.json.value.map((m: { subject: string }) => m.subject).sort();
      assert.deepEqual(names(await as(boss).get('/admin/trace?sender=mallory@remote.example')), [
        'for ann',
        'for both',
      ]);
      assert.deepEqual(names(await as(chief).get('/admin/trace?sender=mallory@remote.example')), [
        'for both',
        'for gus',
      ]);
      // Another tenant's recipient finds nothing, not even a message the two share.
      assert.deepEqual(names(await as(boss).get('/admin/trace?recipient=gus@globex.example')), []);
      const found = await as(boss).get('/admin/trace?recipient=ann@acme.example');
      assert.deepEqual(names(found), ['for ann', 'for both']);
      const both = found.json.value.find((m: { subject: string }) => m.subject === 'for both');
      assert.ok(!JSON.stringify(both.events).includes('gus@'), 'only the own recipients and message-wide events');
      assert.deepEqual(both.events.map((e: { event: string }) => e.event).slice(0, 2), ['received', 'queued']);
      assert.equal(names(await as(globalAdmin).get('/admin/trace?sender=mallory@remote.example')).length, 3);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      assert.deepEqual(names(await as(globalAdmin).get(`/admin/trace?since=${encodeURIComponent(future)}`)), []);
      // The three messages and the delivery report of the one bounced.
      const window = await as(globalAdmin).get(`/admin/trace?since=0&until=${encodeURIComponent(future)}`);
      assert.deepEqual(names(window), ['Undelivered Mail Returned to Sender', 'for ann', 'for both', 'for gus']);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      assert.deepEqual(names(await as(globalAdmin).get(`/admin/trace?since=0&until=${encodeURIComponent(past)}`)), []);
    });

    it('manages groups, shared mailboxes with their grants, rooms and equipment, within the tenant', async () => {
      const group = await as(boss).post('/admin/groups', { address: 'team@acme.example', name: 'Team' });
      assert.equal(group.status, 201, JSON.stringify(group.json));
      assert.deepEqual(group.json.members, []);
      const members = await as(boss).post('/admin/groups/team@acme.example/members', { member: 'ann@acme.example' });
      assert.deepEqual(members.json.members, ['ann@acme.example']);
      const outside = await as(boss).post('/admin/groups/team@acme.example/members', {
        member: 'partner@fabrikam.example',
      });
      assert.deepEqual(outside.json.members, ['ann@acme.example', 'partner@fabrikam.example']);
      assert.equal(
        (await as(boss).post('/admin/groups/team@acme.example/members', { member: 'nobody@acme.example' })).status,
        404,
      );
      assert.equal(
        (await as(chief).post('/admin/groups/team@acme.example/members', { member: 'x@y.example' })).status,
        404,
      );
      assert.deepEqual(
        (await as(boss).delete('/admin/groups/team@acme.example/members/partner@fabrikam.example')).json.members,
        ['ann@acme.example'],
      );
      assert.deepEqual(
        (await as(boss).get('/admin/groups')).json.value.map((g: { address: string; members: string[] }) => [
          g.address,
          g.members,
        ]),
        [['team@acme.example', ['ann@acme.example']]],
      );
      assert.deepEqual((await as(chief).get('/admin/groups')).json.value, []);

      const shared = await as(boss).post('/admin/shared', { address: 'support@acme.example', quota: '1GB' });
      assert.equal(shared.status, 201);
      assert.equal(shared.json.quota, 1_000_000_000);
      const granted = await call('PUT', '/admin/shared/support@acme.example/grants/ann@acme.example', {
        auth: boss,
        body: { sendAs: true },
      });
      assert.deepEqual(granted.json, {
        mailbox: 'support@acme.example',
        grantee: 'ann@acme.example',
        fullAccess: false,
        sendAs: true,
      });
      // A user of another tenant cannot be given rights: they are not found in this tenant.
      const foreign = await call('PUT', '/admin/shared/support@acme.example/grants/gus@globex.example', {
        auth: boss,
        body: { fullAccess: true },
      });
      assert.equal(foreign.status, 404);
      const none = await call('PUT', '/admin/shared/support@acme.example/grants/ann@acme.example', {
        auth: boss,
        body: {},
      });
      assert.equal(none.json.error.field, 'body');
      assert.deepEqual(
        (await as(boss).get('/admin/shared')).json.value[0].grants.map((g: { grantee: string }) => g.grantee),
        ['ann@acme.example'],
      );
      assert.equal(
        (
          await call('PUT', '/admin/shared/support@acme.example/grants/ann@acme.example', {
            auth: chief,
            body: { sendAs: true },
          })
        ).status,
        404,
      );
      assert.equal((await as(boss).delete('/admin/shared/support@acme.example/grants/ann@acme.example')).status, 200);

      const room = await as(boss).post('/admin/resources', {
        address: 'board@acme.example',
        kind: 'room',
        name: 'Board',
      });
      assert.equal(room.status, 201);
      assert.equal(room.json.kind, 'room');
      assert.equal(
        (await as(boss).post('/admin/resources', { address: 'beamer@acme.example' })).json.error.field,
        'kind',
      );
      assert.equal(
        (await as(boss).post('/admin/resources', { address: 'x@acme.example', kind: 'group' })).json.error.field,
        'kind',
      );
      assert.deepEqual(
        (await as(boss).get('/admin/resources')).json.value.map((r: { address: string }) => r.address),
        ['board@acme.example'],
      );
      assert.equal((await as(chief).delete('/admin/resources/board@acme.example')).status, 404);
      assert.equal((await as(boss).delete('/admin/groups/board@acme.example')).status, 404, 'not a group');
      assert.equal((await as(boss).delete('/admin/resources/board@acme.example')).json.removed, 'board@acme.example');
      assert.equal((await as(boss).delete('/admin/groups/team@acme.example')).status, 200);
      assert.equal((await as(boss).delete('/admin/shared/support@acme.example')).status, 200);
    });

    it("sets a room's capacity and booking policy within the tenant; bad settings are 400 naming the field", async () => {
      assert.equal(
        (await as(boss).post('/admin/resources', { address: 'atrium@acme.example', kind: 'room', name: 'Atrium' }))
          .status,
        201,
      );
      assert.equal(
        (await as(boss).post('/admin/resources', { address: 'van@acme.example', kind: 'equipment' })).status,
        201,
      );
      const listed = async () =>
        Object.fromEntries(
          (await as(boss).get('/admin/resources')).json.value.map((r: { address: string }) => [r.address, r]),
        );
      // A resource never set books by the defaults: what every resource did before settings existed.
      const before = (await listed())['atrium@acme.example'];
      assert.deepEqual(
        {
          capacity: before.capacity,
          autoAccept: before.autoAccept,
          allowConflicts: before.allowConflicts,
          windowDays: before.windowDays,
          maxDurationMinutes: before.maxDurationMinutes,
          allowRecurring: before.allowRecurring,
          bookInPolicy: before.bookInPolicy,
          bookers: before.bookers,
        },
        {
          capacity: null,
          autoAccept: true,
          allowConflicts: false,
          windowDays: 180,
          maxDurationMinutes: 1440,
          allowRecurring: true,
          bookInPolicy: 'everyone',
          bookers: [],
        },
      );

      const set = await as(boss).patch('/admin/resources/atrium@acme.example', {
        capacity: 12,
        autoAccept: false,
        windowDays: 30,
        maxDurationMinutes: 240,
        bookers: ['ann@acme.example'],
      });
      assert.equal(set.status, 200, JSON.stringify(set.json));
      assert.equal(set.json.capacity, 12);
      assert.equal(set.json.bookInPolicy, 'list', 'giving bookers makes the policy a list');
      assert.deepEqual(set.json.bookers, ['ann@acme.example']);
      const after = (await listed())['atrium@acme.example'];
      assert.equal(after.capacity, 12);
      assert.equal(after.autoAccept, false);
      assert.equal(after.windowDays, 30);
      assert.equal(after.maxDurationMinutes, 240);

      // Bad input names the field and changes nothing.
      for (const [body, field, message] of [
        [{ capacity: 'lots' }, 'capacity', /capacity: "lots" is not allowed: a whole number from 1 to 100,000/],
        [{ capacity: 0, windowDays: 10 }, 'capacity', /from 1/],
        [{ windowDays: 5000 }, 'windowDays', /windowDays: 5000 is not allowed: a whole number from 1 to 1,080/],
        [{ maxDurationMinutes: 'forever' }, 'maxDurationMinutes', /"forever" is not allowed: a duration/],
        [{ autoAccept: 'maybe' }, 'autoAccept', /yes or no/],
        [{ bookInPolicy: 'friends' }, 'bookInPolicy', /everyone or list/],
        [{ bookers: ['gus@globex.example'] }, 'bookers', /"gus@globex.example" is not an address of a user or group/],
        [{ bookers: ['not an address'] }, 'bookers', /"not an address" is not an address/],
        [{ bookInPolicy: 'list', bookers: [] }, 'bookers', /at least one address or group/],
        [{ colour: 'red' }, 'colour', /not a field of this request/],
      ] as const) {
        const refused = await as(boss).patch('/admin/resources/atrium@acme.example', body);
        assert.equal(refused.status, 400, JSON.stringify(body));
        assert.equal(refused.json.error.field, field, JSON.stringify(refused.json));
        assert.match(refused.json.error.message, message);
      }
      const van = await as(boss).patch('/admin/resources/van@acme.example', { capacity: 3 });
      assert.equal(van.status, 400);
      assert.match(van.json.error.message, /only rooms have a capacity/);
      assert.deepEqual((await listed())['atrium@acme.example'], after, 'nothing changed');

      // Another tenant's administrator finds no such room; everyone again clears the list.
      assert.equal((await as(chief).patch('/admin/resources/atrium@acme.example', { capacity: 2 })).status, 404);
      assert.equal((await as(boss).patch('/admin/resources/ann@acme.example', { capacity: 2 })).status, 404);
      const open = await as(globalAdmin).patch('/admin/resources/atrium@acme.example', { bookInPolicy: 'everyone' });
      assert.deepEqual([open.json.bookInPolicy, open.json.bookers, open.json.tenant], ['everyone', [], 'acme']);
      await as(boss).delete('/admin/resources/atrium@acme.example');
      await as(boss).delete('/admin/resources/van@acme.example');
    });

    it('lists, creates and moves tenants between resource forests for global administrators only', async () => {
      await t.node.holdfast.directory.addForest({ name: 'eu', maxConnections: 50 });
      const tenants = await as(globalAdmin).get('/admin/tenants');
      assert.equal(tenants.status, 200);
      const acme = tenants.json.value.find((x: { name: string }) => x.name === 'acme');
      const acmeUsers = (await as(boss).get('/admin/users')).json.total;
      assert.ok(acmeUsers >= 2);
      assert.deepEqual(acme, { name: 'acme', forest: 'default', domains: 1, users: acmeUsers });

      const added = await as(globalAdmin).post('/admin/tenants', { name: 'Initech', forest: 'eu' });
      assert.equal(added.status, 201, JSON.stringify(added.json));
      assert.deepEqual(added.json, { name: 'initech', forest: 'eu', domains: 0, users: 0 });
      assert.equal((await as(globalAdmin).post('/admin/tenants', { name: 'initech' })).status, 409);
      for (const [body, field, message] of [
        [{ name: 'no spaces' }, 'name', /"no spaces" is not a valid tenant name/],
        [{ name: 'hooli', forest: 'mars' }, 'forest', /unknown resource forest "mars"/],
        [{}, 'name', /is required/],
        [{ name: 'hooli', colour: 'red' }, 'colour', /not a field/],
      ] as const) {
        const refused = await as(globalAdmin).post('/admin/tenants', body);
        assert.equal(refused.status, 400, JSON.stringify(refused.json));
        assert.equal(refused.json.error.field, field);
        assert.match(refused.json.error.message, message);
      }

      const moved = await as(globalAdmin).patch('/admin/tenants/acme', { forest: 'eu' });
      assert.deepEqual(moved.json, { name: 'acme', forest: 'eu', domains: 1, users: acmeUsers });
      assert.equal((await t.node.holdfast.directory.getTenant('acme')).forest, 'eu');
      assert.equal((await as(globalAdmin).patch('/admin/tenants/acme', { forest: 'mars' })).json.error.field, 'forest');
      assert.equal((await as(globalAdmin).patch('/admin/tenants/nobody', { forest: 'eu' })).status, 404);
      const forests = await as(globalAdmin).get('/admin/forests');
      assert.deepEqual(
        forests.json.value.map((f: { name: string; maxConnections: number; tenants: number }) => [
          f.name,
          f.maxConnections,
          f.tenants,
        ]),
        [
          ['default', 1000, 2],
          ['eu', 50, 2],
        ],
      );
      assert.equal((await as(globalAdmin).patch('/admin/tenants/acme', { forest: 'default' })).json.forest, 'default');

      // A tenant administrator neither sees nor changes tenants and forests.
      for (const refused of [
        await as(boss).get('/admin/tenants'),
        await as(boss).get('/admin/forests'),
        await as(boss).post('/admin/tenants', { name: 'sneaky' }),
        await as(boss).patch('/admin/tenants/globex', { forest: 'eu' }),
      ]) {
        assert.equal(refused.status, 403);
        assert.match(refused.json.error.message, /needs a global administrator/);
      }
      assert.equal((await t.node.holdfast.directory.getTenant('globex')).forest, 'default');
      await assert.rejects(t.node.holdfast.directory.getTenant('sneaky'));
    });

    it("adds and removes aliases in the tenant, never to another tenant's user", async () => {
      const added = await as(boss).post('/admin/aliases', { alias: 'Sales@acme.example', target: 'ann@acme.example' });
      assert.equal(added.status, 201);
      assert.deepEqual(added.json, { alias: 'sales@acme.example', target: 'ann@acme.example', tenant: 'acme' });
      assert.equal(
        (await as(boss).post('/admin/aliases', { alias: 'x@acme.example', target: 'gus@globex.example' })).status,
        404,
      );
      assert.equal(
        (await as(chief).post('/admin/aliases', { alias: 'x@acme.example', target: 'gus@globex.example' })).status,
        404,
      );
      const taken = await as(boss).post('/admin/aliases', { alias: 'ann@acme.example', target: 'boss@acme.example' });
      assert.equal(taken.status, 409);
      assert.equal((await as(boss).post('/admin/aliases', { alias: 'y@acme.example' })).json.error.field, 'target');
      assert.deepEqual(
        (await as(boss).get('/admin/aliases')).json.value.map((a: { alias: string }) => a.alias),
        ['sales@acme.example'],
      );
      assert.deepEqual((await as(chief).get('/admin/aliases')).json.value, []);
      assert.equal((await as(chief).delete('/admin/aliases/sales@acme.example')).status, 404);
      assert.equal((await as(boss).delete('/admin/aliases/sales@acme.example')).json.removed, 'sales@acme.example');
      assert.equal((await as(boss).delete('/admin/aliases/sales@acme.example')).status, 404);
    });

    it('takes the web session cookie with its CSRF header, and refuses it without', async () => {
      const login = await call('POST', '/mail/api/login', {
        body: { username: 'boss@acme.example', password },
      });
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const csrf = login.json.csrfToken as string;
      const listed = await call('GET', '/admin/users', { headers: { Cookie: cookie } });
      assert.equal(listed.status, 200);
      assert.equal(listed.json.value.length >= 2, true);
      const body = { address: 'viacookie@acme.example', password: 'Quiet-Otter-93' };
      const noHeader = await call('POST', '/admin/users', { body, headers: { Cookie: cookie } });
      assert.equal(noHeader.status, 403);
      assert.equal(noHeader.headers.get('www-authenticate'), null);
      const wrongHeader = await call('POST', '/admin/users', {
        body,
        headers: { Cookie: cookie, 'X-Holdfast-CSRF': 'guess' },
      });
      assert.equal(wrongHeader.status, 403);
      const otherSite = await call('POST', '/admin/users', {
        body,
        headers: { Cookie: cookie, 'X-Holdfast-CSRF': csrf, Origin: 'https://evil.example' },
      });
      assert.equal(otherSite.status, 403);
      assert.equal((await as(boss).get('/admin/users/viacookie@acme.example')).status, 404, 'nothing made');
      const made = await call('POST', '/admin/users', { body, headers: { Cookie: cookie, 'X-Holdfast-CSRF': csrf } });
      assert.equal(made.status, 201);
      const health = await call('GET', '/admin/serviceAnnouncement/healthOverviews', { headers: { Cookie: cookie } });
      assert.equal(health.status, 200);
      const ended = await call('GET', '/admin/users', { headers: { Cookie: 'hf_session=not-a-session' } });
      assert.equal(ended.status, 401);
      assert.equal(ended.headers.get('www-authenticate'), null, 'no browser password prompt');

      const userLogin = await call('POST', '/mail/api/login', { body: { username: 'ivan@test.example', password } });
      const userCookie = userLogin.headers.get('set-cookie')!.split(';')[0]!;
      assert.equal((await call('GET', '/admin/users', { headers: { Cookie: userCookie } })).status, 403);
    });
  });
}

describe('admin API: continuity status', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode('sqlite', {
      roles: ['http'],
      toml: '[[continuity.upstream]]\nname = "exchange"\ndomains = ["contoso.example"]\nurl = "smtp://127.0.0.1:9"\n',
    });
    const acme = await t.node.holdfast.directory
      .addTenant({ name: 'acme' })
      .then(() => t.node.holdfast.directory.tenant('acme'));
    await acme.addDomain('acme.example');
    await acme.addPrincipal({ kind: 'user', address: 'boss@acme.example', password, role: 'tenant-admin' });
  });
  after(async () => {
    await t?.stop();
  });

  it("says each upstream's state to a global administrator, and refuses a tenant administrator", async () => {
    const http = `http://127.0.0.1:${t.port('http')}`;
    const answer = await fetch(`${http}/admin/continuity`, { headers: { Authorization: globalAdmin } });
    assert.equal(answer.status, 200);
    const { value } = (await answer.json()) as { value: Record<string, unknown>[] };
    assert.equal(value.length, 1);
    assert.deepEqual(
      [value[0]!.upstream, value[0]!.domains, value[0]!.state],
      ['exchange', ['contoso.example'], 'normal'],
    );
    const refused = await fetch(`${http}/admin/continuity`, { headers: { Authorization: boss } });
    assert.equal(refused.status, 403);
  });
});
