// Queue insight during a remote outage: a destination answering "421 4.3.2 … resource forest …"
// (June 2026) is shown with its last reply, the concurrency Holdfast lowered for it and why the mail
// waits, by the admin API (with the live concurrency) and by `holdfast queue insight`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';

describe('queue insight', () => {
  let t: TestNode;
  let mx: FakeMx;
  before(async () => {
    mx = await new FakeMx().start();
    mx.script = {
      connect: () => ({
        code: 421,
        message:
          '4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit, closing transmission channel',
      }),
    };
    t = await startTestNode('sqlite', { toml: `[queue]\npoll_interval = "100ms"\nremote_port = ${mx.port}\n` });
    t.dns.set('busy.example', { MX: [{ exchange: 'mx.busy.example', priority: 10 }] });
    t.dns.set('mx.busy.example', { A: ['127.0.0.1'] });
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'ivan@test.example', password });
  });
  after(async () => {
    await t.stop();
    await mx.stop();
  });

  it('explains why mail for a limiting destination waits', async () => {
    await submission(t.port('submissions'), 'ivan@test.example', password).sendMail({
      from: 'ivan@test.example',
      to: 'someone@busy.example',
      subject: 'Stuck',
      text: 'waiting',
    });
    const url = `http://127.0.0.1:${t.port('http')}/admin/queue/insight`;
    const admin = `Basic ${Buffer.from(`admin@test.example:${adminPassword}`).toString('base64')}`;
    const body = await t.waitFor(async () => {
      const response = await fetch(url, { headers: { Authorization: admin } });
      const json = (await response.json()) as {
        destinations: {
          destination: string;
          deferred: number;
          lastReply: string;
          concurrency: { limit: number } | null;
          explanation: string;
        }[];
      };
      return json.destinations[0]?.deferred === 1 && json;
    }, 'the deferred recipient');
    const [busy] = body.destinations;
    assert.equal(busy!.destination, 'busy.example');
    assert.match(busy!.lastReply, /^421 4\.3\.2 The maximum number of concurrent connections per resource forest/);
    assert.equal(busy!.concurrency?.limit, 1);
    assert.match(
      busy!.explanation,
      /^busy\.example is limiting connections \(421 4\.3\.2.*\); Holdfast lowered its concurrency there to 1; next attempt in \d+ min$/,
    );

    assert.equal((await fetch(url)).status, 401);
    assert.equal(
      (
        await fetch(url, {
          headers: { Authorization: `Basic ${Buffer.from(`ivan@test.example:${password}`).toString('base64')}` },
        })
      ).status,
      403,
      'users are not administrators',
    );

    const env = loopbackEnv(t.backend.dataDir, {
      HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: adminPassword,
    });
    const cli = await runHoldfast(['queue', 'insight'], { env });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^busy\.example: 1 waiting \(1 deferred, 0 in flight\) since .*, 1 attempts$/m);
    assert.match(cli.stdout, /last reply: 421 4\.3\.2/);
    assert.match(cli.stdout, /busy\.example is limiting connections/);
  });
});
