// Service health against real faults on a running node: a destination answering "421 4.3.2 … resource
// forest …" opens an advisory naming the destination, its count, tenants and forests, notifies by a
// signed webhook and by alert mail on its own path, and resolves once mail flows again; a stopped
// IMAP listener opens an incident. The Graph-shaped API, the status page and the metrics show it;
// the probe's own mail never reaches a user's mailbox.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { probeAddress } from '../../src/health/checks/probe-account.ts';
import { webhookSignature } from '../../src/health/notifier.ts';
import { hashPassword } from '../../src/directory/passwords.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';
const base = '/admin/serviceAnnouncement';

interface GraphIssue {
  id: string;
  title: string;
  classification: string;
  origin: string;
  status: string;
  service: string;
  feature: string;
  featureGroup: string;
  impactDescription: string;
  isResolved: boolean;
  startDateTime: string;
  endDateTime: string | null;
  lastModifiedDateTime: string;
  details: { name: string; value: string }[];
  regions: string[];
  forests: string[];
  tenants: string[];
  nodes: string[];
  posts: { createdDateTime: string; postType: string; description: { contentType: string; content: string } }[];
}

interface Hook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

for (const name of backendNames) {
  describe(`service health on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let mx: FakeMx;
    let alerts: FakeMx;
    let hookServer: Server;
    const hooks: Hook[] = [];
    let http: string;
    const admin = `Basic ${Buffer.from(`admin@test.example:${adminPassword}`).toString('base64')}`;
    const get = async <T>(path: string, authorization = admin): Promise<T> => {
      const response = await fetch(`${http}${path}`, { headers: { Authorization: authorization } });
      assert.equal(response.status, 200, `${path}: ${response.status}`);
      return (await response.json()) as T;
    };
    const issues = async (filter: string) =>
      (await get<{ value: GraphIssue[] }>(`${base}/issues?$filter=${encodeURIComponent(filter)}`)).value;

    before(async () => {
      mx = await new FakeMx().start();
      alerts = await new FakeMx().start();
      hookServer = createServer((request, response) => {
        let body = '';
        request.on('data', (d) => (body += d));
        request.on('end', () => {
          hooks.push({ headers: request.headers, body });
          response.end('ok');
        });
      });
      await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
      const hookPort = (hookServer.address() as { port: number }).port;
      t = await startTestNode(name, {
        env: { HOLDFAST_HEALTH: 'true' },
        toml: [
          '[queue]',
          'poll_interval = "100ms"',
          'retry = ["1s"]',
          `remote_port = ${mx.port}`,
          '[health]',
          'probe_interval = "300ms"',
          'open_after = "1s"',
          'resolve_after = "1s"',
          'probe_timeout = "10s"',
          'destination_deferred = 1',
          'destination_failures = 1',
          'alert_to = ["oncall@ops.example"]',
          `alert_relay = "smtp://127.0.0.1:${alerts.port}"`,
          '[[health.webhook]]',
          `url = "http://127.0.0.1:${hookPort}/hook"`,
          'secret = "correct-horse"',
          '',
        ].join('\n'),
      });
      http = `http://127.0.0.1:${t.port('http')}`;
      t.dns.set('busy.example', { MX: [{ exchange: 'mx.busy.example', priority: 10 }] });
      t.dns.set('mx.busy.example', { A: ['127.0.0.1'] });
      t.dns.set('strict.example', { MX: [{ exchange: 'mx.busy.example', priority: 10 }] });
      await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
        kind: 'user',
        address: 'ivan@test.example',
        password,
      });
    });
    after(async () => {
      await t.stop();
      await mx.stop();
      await alerts.stop();
      hookServer.close();
    });

    it('the probe runs end to end and its mail never reaches a user mailbox', async () => {
      const checks = await t.waitFor(
        async () => {
          const rows = await t.node.holdfast.store.db
            .selectFrom('health_checks')
            .selectAll()
            .where('check_name', 'like', 'probe:%')
            .execute();
          return rows.length >= 5 && rows;
        },
        'the first probe round',
        20_000,
      );
      for (const check of checks) assert.equal(check.state, 'healthy', `${check.check_name}: ${check.detail}`);
      assert.deepEqual(checks.map((c) => c.check_name.split('@')[0]).sort(), [
        'probe:caldav',
        'probe:delivery',
        'probe:imap',
        'probe:sign-in',
        'probe:submission',
      ]);
      for (const user of ['admin@test.example', 'ivan@test.example']) {
        assert.ok(
          (await t.mailbox(user)).every((m) => !/X-Holdfast-Probe/i.test(m.text)),
          `no probe mail for ${user}`,
        );
      }
      const probeTenant = await t.node.holdfast.directory.getTenant('holdfast-probe');
      assert.equal(probeTenant.forest, 'holdfast-probe', 'probe traffic counts in its own forest, not a customer one');
    });

    it("a stopped node's own check results are removed, so its last failures do not stay among the failing checks", async () => {
      const { db } = t.node.holdfast.store;
      const now = Date.now();
      await db
        .insertInto('cluster_nodes')
        .values({
          id: 'departed1',
          host: 'departed.test.example',
          name: 'departed.test.example',
          pid: 1,
          roles: 'smtp',
          version: '0.0.0',
          heartbeat_ms: 1000,
          started_at: now - 60_000,
          heartbeat_at: now - 30_000,
          stopped_at: now - 30_000,
        })
        .execute();
      await db
        .insertInto('health_checks')
        .values({
          node: 'departed.test.example',
          check_name: 'listener:smtp@departed.test.example',
          component: 'Mail flow',
          state: 'unhealthy',
          detail: 'port 25 refused connections',
          latency_ms: null,
          checked_at: now - 30_000,
        })
        .execute();
      await t.waitFor(
        async () =>
          (await db.selectFrom('health_checks').select('node').where('node', '=', 'departed.test.example').execute())
            .length === 0,
        "the departed node's checks removed",
        20_000,
      );
      const own = await db
        .selectFrom('health_checks')
        .select('check_name')
        .where('node', '=', 'mail.test.example')
        .execute();
      assert.ok(own.length > 0, "the running node's own checks stay");
      await db.deleteFrom('cluster_nodes').where('id', '=', 'departed1').execute();
    });

    it('the probe account cannot be locked out by strangers or removed, and its own trouble is a note, not an incident', async () => {
      const { db } = t.node.holdfast.store;
      const probe = probeAddress('mail.test.example');
      const check = (rule: string) =>
        db
          .selectFrom('health_checks')
          .selectAll()
          .where('check_name', '=', `${rule}@mail.test.example`)
          .executeTakeFirst();
      for (let i = 0; i < 8; i++) {
        const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
        assert.match(await talk.command(`LOGIN ${probe} Wrong-Guess-${i}`), /NO \[AUTHENTICATIONFAILED\]/);
        talk.close();
      }
      const since = t.clock.now();
      const signIn = await t.waitFor(
        async () => {
          const row = await check('probe:sign-in');
          return row && row.checked_at > since && row;
        },
        'a probe round after the guesses',
        20_000,
      );
      assert.equal(signIn.state, 'healthy', `the probe still signs in: ${signIn.detail}`);

      const env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
      const removal = await runHoldfast(['user', 'remove', probe], { env });
      assert.equal(removal.code, 1);
      assert.match(
        removal.stderr,
        /is a service health probe account: removing it would make the probe report false outages/,
      );

      // Its password changed outside Holdfast: the probe's failures are its account's, not the service's.
      await db
        .updateTable('principals')
        .set({ password_hash: await hashPassword('Changed-Elsewhere-1') })
        .where('address', '=', probe)
        .execute();
      const note = await t.waitFor(
        async () => (await check('monitor:probe-account'))?.state === 'failing' && check('monitor:probe-account'),
        'the probe account note',
        20_000,
      );
      assert.match(note!.detail, /removed or its password changed outside Holdfast/);
      await t.waitFor(
        async () => (await check('monitor:probe-account'))?.state === 'healthy',
        'the probe account set up again',
        20_000,
      );
      assert.equal((await check('probe:sign-in'))?.state, 'healthy');
      const open = await t.node.holdfast.health.log.list({ openOnly: true });
      assert.deepEqual(
        open.map((i) => i.rule),
        [],
        "no issue from the probe account's own trouble",
      );
    });

    it('a destination limiting connections opens an advisory, notifies, and resolves when mail flows again', async () => {
      mx.script = {
        connect: () => ({
          code: 421,
          message:
            '4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit, closing transmission channel',
        }),
      };
      await submission(t.port('submissions'), 'ivan@test.example', password).sendMail({
        from: 'ivan@test.example',
        to: 'someone@busy.example',
        subject: 'Quarterly figures',
        text: 'attached',
      });

      const [opened] = await t.waitFor(
        async () => {
          const found = await issues("service eq 'Remote delivery' and status eq 'serviceDegradation'");
          return found.length > 0 && found;
        },
        'the advisory to be confirmed',
        20_000,
      );
      assert.match(opened!.id, /^MF\d{4}$/);
      assert.equal(opened!.classification, 'advisory');
      assert.equal(opened!.origin, 'thirdParty');
      assert.equal(opened!.title, 'Mail to busy.example is delayed');
      assert.equal(opened!.feature, 'Delivery to busy.example');
      assert.equal(opened!.featureGroup, 'Mail flow');
      assert.equal(opened!.isResolved, false);
      assert.equal(opened!.endDateTime, null);
      assert.match(opened!.startDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(opened!.lastModifiedDateTime, /Z$/);
      assert.deepEqual(opened!.tenants, ['default']);
      assert.deepEqual(opened!.forests, ['default']);
      assert.deepEqual(opened!.regions, ['default']);
      assert.ok(opened!.details.some((d) => d.name === 'NotifyInApp'));
      const [first] = opened!.posts;
      assert.equal(first!.description.contentType, 'html');
      assert.match(first!.description.content, /1 recipients deferred at busy\.example/);
      assert.match(
        first!.description.content,
        /421 4\.3\.2 The maximum number of concurrent connections per resource forest/,
      );
      assert.match(first!.description.content, /tenants default; resource forests default/);
      assert.ok(
        opened!.posts.some((p) => /confirmed by repeated checks/.test(p.description.content)),
        'a confirmation post',
      );

      const overview = await get<{ value: { id: string; service: string; status: string; issues?: GraphIssue[] }[] }>(
        `${base}/healthOverviews?$expand=issues`,
      );
      const remote = overview.value.find((s) => s.id === 'RemoteDelivery')!;
      assert.equal(remote.status, 'serviceDegradation');
      assert.deepEqual(
        remote.issues!.map((i) => i.id),
        [opened!.id],
      );
      assert.equal(overview.value.find((s) => s.id === 'Imap')!.status, 'serviceOperational');
      assert.equal(
        (await get<{ status: string }>(`${base}/healthOverviews/Remote%20delivery`)).status,
        'serviceDegradation',
      );

      const page = await (await fetch(`${http}/status`)).text();
      assert.match(page, /<h1>Advisory: Remote delivery degraded<\/h1>/);
      assert.match(page, /Delivery to one outside destination is delayed/);
      assert.doesNotMatch(page, /busy\.example|ivan@|tenants default/, 'nothing tenant-private on the public page');

      const metrics = await (await fetch(`${http}/metrics`)).text();
      assert.match(
        metrics,
        /holdfast_health_check_state\{check="destination:busy\.example",component="RemoteDelivery"\} 2/,
      );
      assert.match(metrics, /holdfast_health_component_status\{component="RemoteDelivery"\} 1/);
      assert.match(metrics, /holdfast_health_issues_open\{classification="advisory"\} 1/);
      assert.match(metrics, /holdfast_health_check_latency_seconds\{check="probe:delivery@mail\.test\.example"\}/);

      // The destination takes mail again: the retry delivers, the advisory restores, then resolves.
      mx.script = {};
      const resolved = await t.waitFor(
        async () => {
          const issue = await get<GraphIssue>(`${base}/issues/${opened!.id}`);
          return issue.isResolved && issue;
        },
        'the advisory to resolve',
        20_000,
      );
      assert.equal(resolved.status, 'serviceRestored');
      assert.ok(resolved.endDateTime);
      const contents = resolved.posts.map((p) => p.description.content);
      assert.ok(
        contents.some((c) => /Checks pass again since/.test(c)),
        'a restoringService post',
      );
      assert.match(contents.at(-1)!, /Final status/);
      assert.equal(mx.received.length, 1, 'the message was delivered once');

      // Notifications: every webhook signed; alert mail through the alert relay, not the queue.
      await t.waitFor(
        async () =>
          hooks.some(
            (h) => JSON.parse(h.body).event === 'issue.resolved' && JSON.parse(h.body).issue.id === opened!.id,
          ),
        'the resolve webhook',
      );
      for (const hook of hooks) {
        const signature = webhookSignature('correct-horse', String(hook.headers['x-holdfast-timestamp']), hook.body);
        assert.equal(hook.headers['x-holdfast-signature'], `sha256=${signature}`);
      }
      const events = hooks
        .map((h) => JSON.parse(h.body) as { event: string; issue: GraphIssue })
        .filter((e) => e.issue.id === opened!.id);
      assert.deepEqual([...new Set(events.map((e) => e.event))], ['issue.opened', 'issue.updated', 'issue.resolved']);
      const about = () => alerts.received.filter((m) => m.data.includes(`[Holdfast ${opened!.id}]`));
      await t.waitFor(async () => about().some((m) => /\] Resolved: /.test(m.data)), 'the resolve alert mail');
      assert.deepEqual(about()[0]!.to, ['oncall@ops.example']);
      assert.match(
        about()[0]!.data,
        new RegExp(`Subject: \\[Holdfast ${opened!.id}\\] Advisory opened: Mail to busy\\.example is delayed`),
      );
      assert.match(about().at(-1)!.data, /Subject: \[Holdfast MF\d+\] Resolved: /);
    });

    it('a destination refusing mail opens an advisory with its reply', async () => {
      mx.script = {
        rcpt: (address) =>
          address.endsWith('@strict.example')
            ? { code: 550, message: '5.7.1 Service unavailable; client host blocked using a blocklist' }
            : undefined,
      };
      await submission(t.port('submissions'), 'ivan@test.example', password).sendMail({
        from: 'ivan@test.example',
        to: 'buyer@strict.example',
        subject: 'Offer',
        text: 'see attached',
      });
      const [refused] = await t.waitFor(
        async () => {
          const found = await issues("feature eq 'Delivery to strict.example'");
          return found.length > 0 && found;
        },
        'the refusal advisory',
        20_000,
      );
      assert.equal(refused!.title, 'Mail to strict.example is being refused');
      assert.equal(refused!.classification, 'advisory');
      assert.deepEqual(refused!.tenants, ['default']);
      assert.match(
        refused!.posts[0]!.description.content,
        /1 of 1 recipients at strict\.example were refused in the last hour; last reply: 550 5\.7\.1 Service unavailable; client host blocked/,
      );
      mx.script = {};
    });

    it('a stopped IMAP listener opens an incident, shown by the API, the status page and `holdfast health`', async () => {
      await t.node.stopRole('imap');
      const [incident] = await t.waitFor(
        async () => {
          const found = await issues("service eq 'IMAP' and status eq 'serviceInterruption'");
          return found.length > 0 && found;
        },
        'the IMAP incident',
        20_000,
      );
      assert.equal(incident!.classification, 'incident');
      assert.match(incident!.id, /^MA\d{4}$/);
      assert.equal(incident!.title, 'IMAP is not accepting connections on mail.test.example');
      assert.deepEqual(incident!.nodes, ['mail.test.example']);
      assert.deepEqual(incident!.tenants, [], 'every tenant on the node');
      assert.match(
        incident!.posts[0]!.description.content,
        /imap \(port \d+\), imaps \(port \d+\),? and managesieve \(port \d+\) on mail\.test\.example refused connections/,
      );
      assert.equal((await get<{ status: string }>(`${base}/healthOverviews/Imap`)).status, 'serviceInterruption');
      assert.match(
        await (await fetch(`${http}/status`)).text(),
        /<h1>Incident: (IMAP|POP3) interrupted \(and \d more open issues?\)<\/h1>[\s\S]*IMAP<\/td><td class="down">Interrupted/,
      );

      const env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
      const cli = await runHoldfast(['health'], { env });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^ {2}IMAP +Interrupted$/m);
      assert.match(
        cli.stdout,
        new RegExp(`^  ${incident!.id} incident · Interrupted · since .*: IMAP is not accepting connections`, 'm'),
      );
      const shown = await runHoldfast(['health', 'show', incident!.id], { env });
      assert.match(shown.stdout, /Investigating {2}\(holdfast\)\n {2}Title: IMAP is not accepting connections/);

      // An issue opened from another process shows in the metrics at the next scrape, not the next probe round.
      const openIncidents = async () =>
        Number(
          /holdfast_health_issues_open\{classification="incident"\} (\d+)/.exec(
            await (await fetch(`${http}/metrics`)).text(),
          )?.[1],
        );
      const before = await openIncidents();
      const opened = await runHoldfast(
        [
          'health',
          'open',
          '--component',
          'Pop3',
          '--title',
          'POP3 maintenance',
          '--impact',
          'POP3 clients may be refused',
          '--json',
        ],
        { env },
      );
      assert.equal(opened.code, 0, opened.stderr);
      assert.equal(await openIncidents(), before + 1);
    });

    it('deletes probe mail, its trace and its content a day later', async () => {
      const { db } = t.node.holdfast.store;
      const probes = await db
        .selectFrom('queue_messages')
        .select(['id', 'blob_hash'])
        .where('sender', 'like', 'probe-%@holdfast-probe.invalid')
        .execute();
      assert.ok(probes.length > 0);
      t.clock.advance(25 * 3_600_000);
      await t.waitFor(
        async () =>
          (
            await db
              .selectFrom('queue_messages')
              .select('id')
              .where(
                'id',
                'in',
                probes.map((p) => p.id),
              )
              .execute()
          ).length === 0,
        'the cleanup',
        20_000,
      );
      assert.equal(
        (
          await db
            .selectFrom('trace_events')
            .select('id')
            .where(
              'message_id',
              'in',
              probes.map((p) => p.id),
            )
            .execute()
        ).length,
        0,
      );
      const kept = () =>
        db
          .selectFrom('blob_metadata')
          .select('hash')
          .where(
            'hash',
            'in',
            probes.map((p) => p.blob_hash),
          )
          .execute();
      await t.waitFor(async () => (await kept()).length === 0, 'the probe contents to go');
      const blobs = await Promise.all(probes.map((p) => t.node.holdfast.store.blobs.has(p.blob_hash)));
      assert.ok(
        blobs.every((present) => !present),
        'no probe content left in the blob store',
      );
      assert.ok((await t.mailbox('ivan@test.example')).length > 0, "users' mail is untouched");
    });
  });
}
