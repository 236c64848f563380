// The service health API as an administrator and their tooling use it: HTTP Basic or a bearer token
// from `holdfast token create`; opening an issue by hand, posting, changing status; what a tenant
// administrator may see; Graph-style errors, $filter and paging. And the public status page when
// the store stops answering.
import assert from 'node:assert/strict';
import type { CheckResult } from '../../src/health/check-result.ts';
import { automaticIssue } from '../../src/health/health-monitor.ts';
import { statusPost } from '../../src/health/issue-posts.ts';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';

const base = '/admin/serviceAnnouncement';
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('service health API', () => {
  let t: TestNode;
  let http: string;
  let token: string;
  const admin = basic('admin@test.example', adminPassword);
  const call = async (method: string, path: string, authorization: string | undefined, body?: unknown) => {
    const response = await fetch(`${http}${path}`, {
      method,
      headers: {
        ...(authorization ? { Authorization: authorization } : {}),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the API's answer it checks
    return { status: response.status, json: (await response.json()) as any };
  };

  before(async () => {
    t = await startTestNode('sqlite', { roles: ['http'] });
    http = `http://127.0.0.1:${t.port('http')}`;
    const { directory } = t.node.holdfast;
    await directory.addTenant({ name: 'other' });
    const other = await directory.tenant('other');
    await other.addDomain('other.example');
    await other.addPrincipal({
      kind: 'user',
      address: 'boss@other.example',
      password: 'Lighthouse-77',
      role: 'tenant-admin',
    });
    await (await directory.tenant('default')).addPrincipal({
      kind: 'user',
      address: 'ivan@test.example',
      password: 'Wonderland-42',
    });
    const env = loopbackEnv(t.backend.dataDir, {
      HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: adminPassword,
    });
    const created = await runHoldfast(['token', 'create', 'admin@test.example', '--name', 'monitoring', '--json'], {
      env,
    });
    assert.equal(created.code, 0, created.stderr);
    token = JSON.parse(created.stdout).token;
    assert.match(token, /^hf_/);
  });
  after(() => t.stop());

  it('refuses anyone who is not an administrator', async () => {
    const anonymous = await call('GET', `${base}/issues`, undefined);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error.code, 'Unauthorized');
    assert.equal(
      (await call('GET', `${base}/issues`, basic('ivan@test.example', 'Wonderland-42'))).status,
      403,
      'users are not administrators',
    );
    assert.equal((await call('GET', `${base}/issues`, 'Bearer hf_not-a-token')).status, 401);
  });

  it('an administrator opens an issue by hand, posts updates and resolves it, with a token', async () => {
    const bearer = `Bearer ${token}`;
    const opened = await call('POST', `${base}/issues`, bearer, {
      service: 'Submission',
      title: 'Sending from Outlook fails for some users',
      impactDescription: 'Some users cannot send from Outlook; webmail works.',
      classification: 'advisory',
      message: 'We are looking at the submission logs.',
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.json));
    const issue = opened.json;
    assert.match(issue.id, /^MF\d{4}$/);
    assert.equal(issue.classification, 'advisory');
    assert.equal(issue.status, 'investigating');
    assert.equal(issue.service, 'Submission');
    assert.equal(issue.origin, 'customer');
    assert.deepEqual(issue.tenants, []);
    assert.match(issue.posts[0].description.content, /We are looking at the submission logs/);

    const posted = await call('POST', `${base}/issues/${issue.id}/posts`, bearer, {
      message: 'Cause found: an expired certificate on port 587.',
      status: 'restoringService',
      postType: 'quick',
    });
    assert.equal(posted.status, 201);
    assert.equal(posted.json.status, 'restoringService');
    assert.equal(posted.json.posts[1].postType, 'quick');

    const restored = await call('PATCH', `${base}/issues/${issue.id}`, admin, {
      status: 'ServiceRestored',
      message: 'Certificate renewed.',
    });
    assert.equal(restored.status, 200);
    assert.equal(restored.json.status, 'serviceRestored', 'PascalCase accepted as Graph payloads use it');
    assert.equal(restored.json.isResolved, true);
    assert.ok(restored.json.endDateTime);

    const again = await call('PATCH', `${base}/issues/${issue.id}`, admin, { status: 'investigating' });
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /is resolved .*Open a new issue/);
    const review = await call('PATCH', `${base}/issues/${issue.id}`, admin, {
      status: 'postIncidentReviewPublished',
      message: 'Review: certificate expiry is now alerted 14 days ahead.',
    });
    assert.equal(review.json.status, 'postIncidentReviewPublished');

    const listed = await call(
      'GET',
      `${base}/issues?$filter=${encodeURIComponent("isResolved eq true and classification eq 'advisory'")}`,
      bearer,
    );
    assert.deepEqual(
      listed.json.value.map((i: { id: string }) => i.id),
      [issue.id],
    );
  });

  it('answers bad requests with a precise Graph error and changes nothing', async () => {
    const before = (await call('GET', `${base}/issues`, admin)).json.value.length;
    const badComponent = await call('POST', `${base}/issues`, admin, {
      service: 'Fax',
      title: 'x',
      impactDescription: 'y',
    });
    assert.equal(badComponent.status, 400);
    assert.match(badComponent.json.error.message, /component = "Fax" is not allowed/);
    const badStatus = await call('POST', `${base}/issues`, admin, {
      service: 'Imap',
      title: 'x',
      impactDescription: 'y',
      status: 'serviceRestored',
    });
    assert.equal(badStatus.status, 400);
    const noTitle = await call('POST', `${base}/issues`, admin, { service: 'Imap', impactDescription: 'y' });
    assert.match(noTitle.json.error.message, /title is required/);
    const badFilter = await call(
      'GET',
      `${base}/issues?$filter=${encodeURIComponent('startswith(title, "x")')}`,
      admin,
    );
    assert.equal(badFilter.status, 400);
    assert.match(badFilter.json.error.message, /not supported/);
    const missing = await call('GET', `${base}/issues/MF9999`, admin);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'itemNotFound');
    assert.equal((await call('GET', `${base}/healthOverviews/Fax`, admin)).status, 404);
    assert.equal((await call('PATCH', `${base}/issues/MF9999`, admin, { status: 'falsePositive' })).status, 404);
    assert.equal((await call('GET', `${base}/issues`, admin)).json.value.length, before);
  });

  it('a tenant administrator sees issues affecting everyone and their own tenant, and changes none', async () => {
    const mine = await call('POST', `${base}/issues`, admin, {
      service: 'Queue',
      title: 'Mail of tenant other is delayed',
      impactDescription: 'Late mail.',
      tenants: ['other'],
    });
    const theirs = await call('POST', `${base}/issues`, admin, {
      service: 'Queue',
      title: 'Mail of tenant default is delayed',
      impactDescription: 'Late mail.',
      tenants: ['default'],
    });
    const everyone = await call('POST', `${base}/issues`, admin, {
      service: 'Store',
      title: 'Store maintenance',
      impactDescription: 'Brief pauses.',
      classification: 'advisory',
    });
    const boss = basic('boss@other.example', 'Lighthouse-77');
    const seen = (await call('GET', `${base}/issues`, boss)).json.value.map((i: { id: string }) => i.id);
    assert.ok(seen.includes(mine.json.id) && seen.includes(everyone.json.id));
    assert.ok(!seen.includes(theirs.json.id), "another tenant's issue stays hidden");
    assert.equal((await call('GET', `${base}/issues/${theirs.json.id}`, boss)).status, 404);
    const shown = (await call('GET', `${base}/issues/${mine.json.id}`, boss)).json;
    assert.deepEqual(shown.tenants, ['other']);
    assert.deepEqual(shown.forests, [], 'forest layout is the operator’s business');
    const queue = (await call('GET', `${base}/healthOverviews/Queue`, boss)).json;
    assert.equal(queue.status, 'investigating');
    assert.equal(
      (await call('POST', `${base}/issues`, boss, { service: 'Imap', title: 'x', impactDescription: 'y' })).status,
      403,
    );
    assert.equal(
      (await call('PATCH', `${base}/issues/${mine.json.id}`, boss, { status: 'falsePositive' })).status,
      403,
    );
  });

  it("a tenant administrator's view of automatic posts names no other tenant and none of everyone's figures", async () => {
    const result: CheckResult = {
      rule: 'destination:busy.example',
      component: 'Queue',
      state: 'failing',
      detail:
        '42 recipients deferred at busy.example (42 waiting since 2026-01-01T00:00:00.000Z); last reply: 421 4.3.2 Busy.',
      issue: {
        classification: 'advisory',
        origin: 'thirdParty',
        title: 'Mail to busy.example is delayed',
        impact: 'Messages to busy.example are waiting in the queue.',
        feature: 'Outbound delivery',
        publicSummary: 'Delivery to one outside destination is delayed',
        scope: { tenants: ['default', 'other'], forests: ['default', 'eu-1'], regions: ['local'], nodes: [] },
      },
    };
    const { health } = t.node.holdfast;
    const since = health.now();
    const opened = await health.log.open(automaticIssue(result, since, 60_000));
    await health.log.setStatus(opened!.id, 'serviceDegradation', {
      from: 'investigating',
      author: 'holdfast',
      post: statusPost('serviceDegradation', result, { startAt: since, resolveAfterMs: 60_000 }),
    });

    const operator = (await call('GET', `${base}/issues/${opened!.id}`, admin)).json;
    assert.match(operator.posts[0].description.content, /tenants default, other; resource forests default, eu-1/);
    assert.match(operator.posts[1].description.content, /42 recipients deferred/);
    assert.equal(operator.affectedTenantsEstimate, 2);

    const tenant = (await call('GET', `${base}/issues/${opened!.id}`, basic('boss@other.example', 'Lighthouse-77')))
      .json;
    const posts = tenant.posts.map((p: { description: { content: string } }) => p.description.content).join('\n');
    assert.match(posts, /<b>Scope of impact:<\/b> tenants other; region local/);
    assert.doesNotMatch(
      posts,
      /default|eu-1|42 recipients|421 4\.3\.2/,
      "no other tenant's name, no forest, no figures about everyone's mail",
    );
    assert.match(posts, /Automatic checks detected a problem/, 'the status sentences stay');
    assert.equal(tenant.affectedTenantsEstimate, null);
  });

  it('pages with @odata.nextLink and a revoked token stops working', async () => {
    const first = (await call('GET', `${base}/issues?$top=2`, admin)).json;
    assert.equal(first.value.length, 2);
    assert.match(first['@odata.nextLink'], /\$skip=2/);
    const next = (await call('GET', first['@odata.nextLink'], admin)).json;
    assert.ok(next.value.length >= 1);
    assert.ok(!next.value.some((i: { id: string }) => first.value.some((f: { id: string }) => f.id === i.id)));

    const env = loopbackEnv(t.backend.dataDir, {
      HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: adminPassword,
    });
    const list = await runHoldfast(['token', 'list'], { env });
    assert.match(list.stdout, /^1 +admin@test\.example +admin +monitoring +\S+ +\S+Z$/m, 'last use recorded');
    assert.equal((await runHoldfast(['token', 'revoke', '1'], { env })).code, 0);
    assert.equal((await call('GET', `${base}/issues`, `Bearer ${token}`)).status, 401);
    const user = await runHoldfast(['token', 'create', 'ivan@test.example'], { env });
    assert.equal(user.code, 1);
    assert.match(user.stderr, /ivan@test\.example is not an administrator/);
  });
});

describe('status page', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode('sqlite', {
      roles: ['http'],
      env: { HOLDFAST_HEALTH: 'true' },
      toml: '[health]\nprobe_interval = "300ms"\n',
    });
  });
  after(() => t.stop());

  it('renders with a working store, and says so when the store stops answering', async () => {
    const url = `http://127.0.0.1:${t.port('http')}/status`;
    const healthy = await fetch(url);
    assert.equal(healthy.status, 200);
    assert.match(healthy.headers.get('content-type')!, /text\/html/);
    const page = await healthy.text();
    assert.match(page, /All services are operational/);
    // A new installation has no history before it: those days are grey, not 30 green days.
    assert.match(page, /<h2>Since installation \(\d{4}-\d\d-\d\d\)<\/h2>/);
    assert.match(page, /<span class="none" title="\d{4}-\d\d-\d\d: not installed yet"><\/span>/);
    for (const component of [
      'SMTP intake',
      'Submission',
      'Queue',
      'Local delivery',
      'Remote delivery',
      'IMAP',
      'POP3',
      'CalDAV',
      'HTTP API',
      'Store',
      'Directory and authentication',
    ]) {
      assert.match(page, new RegExp(`<td>${component}</td>`));
    }

    // Another process holds the database's write lock: every write of the server now fails.
    const locker = new Database(t.backend.databaseUrl);
    locker.exec('BEGIN EXCLUSIVE');
    try {
      const down = await t.waitFor(
        async () => {
          const snapshot = (await (await fetch(`${url}.json`)).json()) as {
            store: { available: boolean; error?: string; since?: number };
          };
          return !snapshot.store.available && snapshot;
        },
        'the status page to notice the store',
        40_000,
      );
      assert.equal(down.store.error, undefined, 'no internal error text on the public page');
      assert.ok(down.store.since);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /The store is not answering since/);
      assert.match(text, /Store<\/td><td class="down">Interrupted/);
    } finally {
      locker.exec('COMMIT');
      locker.close();
    }
    await t.waitFor(
      async () => ((await (await fetch(`${url}.json`)).json()) as { store: { available: boolean } }).store.available,
      'the store to be back',
      40_000,
    );
  });
});
