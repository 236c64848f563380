// `holdfast cluster status` and `holdfast cluster forget`, run as a user runs them, against a node
// on SQLite (one node: it holds every singleton lease) with a remote delivery held in flight, and
// a node of another host that went silent; plus the [cluster] settings refused with their reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { tempDir } from '../helpers/backends.ts';
import { loopbackEnv, type CliResult } from '../helpers/cli.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';
const mainModule = new URL('../../src/main.ts', import.meta.url).href;

/** The CLI from the sources (this change is not in a built dist/ yet), in its own process. */
function holdfast(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { main } = await import(${JSON.stringify(mainModule)}); await main(process.argv.slice(1));`,
        ...args,
      ],
      { env: { ...process.env, HOLDFAST_LOG_FORMAT: 'json', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('holdfast cluster', () => {
  let t: TestNode;
  let mx: Server;
  const held = new Set<Socket>();
  let env: Record<string, string>;
  const json = async (...args: string[]) => {
    const result = await holdfast([...args, '--json'], env);
    assert.equal(result.code, 0, `holdfast ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  before(async () => {
    // A destination that accepts the connection and never greets: the delivery stays in flight, leased.
    mx = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => mx.listen(0, '127.0.0.1', resolve));
    const mxPort = (mx.address() as { port: number }).port;
    t = await startTestNode('sqlite', {
      roles: ['smtp', 'queue'],
      toml: `[cluster]\nheartbeat = "200ms"\nlease = "1s"\n[queue]\npoll_interval = "100ms"\nremote_port = ${mxPort}\n`,
    });
    env = loopbackEnv(t.backend.dataDir, { HOLDFAST_DATABASE_URL: t.backend.databaseUrl });
    t.dns.set('remote.example', { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
    t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'gina@test.example', password });
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    mx.close();
    await t.stop();
  });

  it('shows the node, its queue leases and the singleton jobs it runs', async () => {
    await submission(t.port('submissions'), 'gina@test.example', password).sendMail({
      from: 'gina@test.example',
      to: 'someone@remote.example',
      subject: 'Held',
      text: 'in flight',
    });
    const { db } = t.node.holdfast.store;
    await t.waitFor(
      async () => db.selectFrom('queue_recipients').select('id').where('state', '=', 'inflight').executeTakeFirst(),
      'the remote delivery in flight',
    );
    const { singletons } = t.node.holdfast.cluster;
    await t.waitFor(async () => singletons.held().length === 2, 'every singleton lease held by the one node');

    const status = await json('cluster', 'status');
    const id = t.node.holdfast.cluster.nodeId;
    assert.equal(status.nodes.length, 1);
    const [node] = status.nodes;
    assert.equal(node.id, id);
    assert.equal(node.host, hostname());
    assert.equal(node.pid, process.pid);
    assert.equal(node.name, 'mail.test.example');
    assert.deepEqual(node.roles, ['smtp', 'queue']);
    assert.equal(node.state, 'running');
    assert.equal(node.queueLeases, 1);
    // Health is off in these tests: only nodes running health rounds contend for its lease.
    assert.deepEqual(node.singletons, ['delay-notices', 'housekeeping']);
    assert.deepEqual(
      status.singletons.map((s: { name: string; holder: string; state: string; token: number }) => [
        s.name,
        s.holder,
        s.state,
        s.token,
      ]),
      [
        ['delay-notices', id, 'held', 1],
        ['housekeeping', id, 'held', 1],
      ],
    );

    const text = await holdfast(['cluster', 'status'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Nodes: 1 running, 0 stopped/);
    assert.match(
      text.stdout,
      new RegExp(`${id}\\s+${hostname()}\\s+${process.pid}\\s+mail\\.test\\.example\\s+smtp,queue`),
    );
    assert.match(text.stdout, /Singleton jobs:/);
    assert.match(text.stdout, new RegExp(`housekeeping\\s+${id}\\s+1\\s+held`));
  });

  it('lists a silent node with how to forget it, forgets it, and refuses to forget a running node', async () => {
    const { db } = t.node.holdfast.store;
    const long = Date.now() - 3_600_000;
    await db
      .insertInto('cluster_nodes')
      .values({
        id: 'deadbeef',
        host: 'mail-old.internal',
        name: 'mail.test.example',
        pid: 4242,
        roles: 'imap',
        version: '0.1.0',
        heartbeat_ms: 5000,
        started_at: long,
        heartbeat_at: long,
        stopped_at: null,
      })
      .execute();
    const status = await json('cluster', 'status');
    assert.equal(status.nodes.find((n: { id: string }) => n.id === 'deadbeef')?.state, 'silent');
    const text = await holdfast(['cluster', 'status'], env);
    assert.match(text.stdout, /Nodes: 1 running, 1 silent, 0 stopped/);
    assert.match(text.stdout, /if it is gone for good: holdfast cluster forget deadbeef/);

    assert.deepEqual(await json('cluster', 'forget', 'deadbeef'), {
      forgotten: 'deadbeef',
      host: 'mail-old.internal',
      pid: 4242,
      state: 'silent',
    });
    assert.equal((await json('cluster', 'status')).nodes.length, 1);

    const running = await holdfast(['cluster', 'forget', t.node.holdfast.cluster.nodeId, '--json'], env);
    assert.equal(running.code, 1);
    assert.equal(JSON.parse(running.stdout).error.code, 'node-running');
    const unknown = await holdfast(['cluster', 'forget', 'nosuchnode'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no node nosuchnode in the cluster/);
  });
});

describe('[cluster] settings', () => {
  const load = async (toml: string) => {
    const dir = await tempDir();
    await writeFile(join(dir, 'holdfast.toml'), toml);
    return () => loadConfig({ env: loopbackEnv(dir), cwd: dir });
  };

  it('defaults to a 2 s heartbeat and a 10 s lease (five heartbeats), also with another heartbeat', async () => {
    assert.deepEqual((await load(''))().cluster, { heartbeatMs: 2000, leaseMs: 10_000 });
    assert.deepEqual((await load('[cluster]\nheartbeat = "5s"\n'))().cluster, { heartbeatMs: 5000, leaseMs: 25_000 });
  });

  it('refuses a lease shorter than three heartbeats, and a heartbeat under 100 ms, naming key and value', async () => {
    assert.throws(
      await load('[cluster]\nheartbeat = "2s"\nlease = "5s"\n'),
      (e: Error) =>
        e instanceof ConfigError &&
        /cluster\.lease = "5s" is not allowed: expected a duration at least 3 times cluster\.heartbeat \(2000ms\), that is at least 6000ms/.test(
          e.message,
        ),
    );
    assert.throws(
      await load('[cluster]\nheartbeat = "10ms"\n'),
      (e: Error) =>
        e instanceof ConfigError &&
        /cluster\.heartbeat = "10ms" is not allowed: expected a duration of at least 100ms/.test(e.message),
    );
    assert.throws(
      await load('[cluster]\nbeat = "1s"\n'),
      (e: Error) => e instanceof ConfigError && /unknown key "beat" in \[cluster\]/.test(e.message),
    );
  });
});
