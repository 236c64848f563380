// Work that must run once across nodes (issue 17 item 4): two and then three nodes on one
// PostgreSQL database, with short heartbeats and leases. Exactly one node holds each singleton and
// runs its job; a clean stop hands it over at once; a node that stops renewing (hung, cut off) is
// replaced once its lease runs out, and its writes under the old fencing token are refused. Time
// bounds are hang detectors, not measurements.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FencedOut } from '../../src/cluster/leader-lease.ts';
import { listNodes } from '../../src/cluster/node-registry.ts';
import { Housekeeping } from '../../src/flow/queue/housekeeping.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createBackend, postgresSkip, type TestBackend } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const toml = '[cluster]\nheartbeat = "200ms"\nlease = "1s"\n[health]\nenabled = false\n';
// Health is off here: the lease of the shared health checks is only contended for by nodes running health rounds.
const singletonNames = ['delay-notices', 'housekeeping'];

describe('singleton jobs across nodes', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  const nodes: TestNode[] = [];
  /** How often the test job ran on each node, by node id. */
  const runs = new Map<string, number>();

  const start = async () => {
    const t = await startTestNode('postgres', { backend, roles: ['queue'], toml });
    const { cluster } = t.node.holdfast;
    runs.set(cluster.nodeId, 0);
    cluster.singletons.runAsSingleton('test-job', 100, async (run) => {
      // The job's write carries its fence: refused once the lease is not this run's.
      await t.node.holdfast.store.db.transaction().execute(async (trx) => {
        await run.fence(trx);
        runs.set(cluster.nodeId, runs.get(cluster.nodeId)! + 1);
      });
    });
    nodes.push(t);
    return t;
  };
  const idOf = (t: TestNode) => t.node.holdfast.cluster.nodeId;
  const leaseRow = (name: string) =>
    nodes[0]!.node.holdfast.store.db
      .selectFrom('singleton_leases')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
  /** The one node (of those given) holding `name` by its own account, once exactly one does. */
  const soleHolder = (name: string, among: TestNode[]) =>
    nodes[0]!.waitFor(
      async () => {
        const holders = among.filter((t) => t.node.holdfast.cluster.singletons.held().includes(name));
        return holders.length === 1 && holders[0];
      },
      `one node holding ${name}`,
      20_000,
    );

  before(async () => {
    backend = await createBackend('postgres');
    await start();
    await start();
  });
  after(async () => {
    for (const t of nodes) await t.stop().catch(() => {});
    await backend.cleanup();
  });

  it('registers each node, and exactly one of them holds each singleton and runs its job', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const registered = await listNodes(a.node.holdfast.store.db, Date.now());
    assert.deepEqual(registered.map((n) => n.id).sort(), [idOf(a), idOf(b)].sort());
    assert.ok(registered.every((n) => n.state === 'running' && n.pid === process.pid && n.roles.join() === 'queue'));

    for (const name of [...singletonNames, 'test-job']) {
      const holder = await soleHolder(name, [a, b]);
      assert.equal((await leaseRow(name)).holder, idOf(holder), `${name}: the row names the holder`);
    }
    const holder = await soleHolder('test-job', [a, b]);
    const other = holder === a ? b : a;
    await a.waitFor(async () => runs.get(idOf(holder))! >= 3, 'the job running on its holder', 20_000);
    assert.equal(runs.get(idOf(other)), 0, 'never on the other node');
  });

  it('hands a singleton over at once when its holder stops cleanly', async () => {
    const holder = await soleHolder('test-job', nodes);
    const other = nodes.find((t) => t !== holder)!;
    const before = await leaseRow('test-job');
    const stoppedAt = Date.now();
    await holder.stop();
    nodes.splice(nodes.indexOf(holder), 1);
    await soleHolder('test-job', [other]);
    // Released, so taken at the next heartbeat rather than after the lease: a hang detector of 10 s.
    assert.ok(Date.now() - stoppedAt < 10_000, `taken over after ${Date.now() - stoppedAt} ms`);
    const after = await leaseRow('test-job');
    assert.equal(after.holder, idOf(other));
    assert.ok(Number(after.token) > Number(before.token), 'the takeover raised the fencing token');
    const counted = runs.get(idOf(other))!;
    await other.waitFor(async () => runs.get(idOf(other))! > counted, 'the job running on the new holder', 20_000);
    const gone = (await listNodes(other.node.holdfast.store.db, Date.now())).find((n) => n.id === idOf(holder));
    assert.equal(gone?.state, 'stopped');
    for (const name of singletonNames) assert.equal((await soleHolder(name, [other])) === other, true);
  });

  it('replaces a holder that stops renewing, and refuses its writes under the old token', async () => {
    await start();
    const holder = await soleHolder('test-job', nodes);
    const other = nodes.find((t) => t !== holder)!;
    const stale = holder.node.holdfast.cluster.singletons.lease('test-job');
    const staleToken = stale.held!.token;
    // Hung: no heartbeat, no renewal, and nothing released; its timers of other kinds keep going.
    holder.node.holdfast.cluster.freeze();
    const frozenAt = Date.now();
    await soleHolder('test-job', [other]);
    assert.ok(Date.now() - frozenAt < 20_000, `taken over after ${Date.now() - frozenAt} ms`);
    const row = await leaseRow('test-job');
    assert.equal(row.holder, idOf(other));
    assert.ok(Number(row.token) > staleToken);

    // The stale holder wakes up and writes as if it still held the lease: refused, nothing written.
    const db = holder.node.holdfast.store.db;
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await stale.fence(trx, staleToken);
        await trx
          .insertInto('health_checks')
          .values({
            node: 'stale-writer',
            check_name: 'stale',
            component: 'Store',
            state: 'healthy',
            detail: 'written by a holder whose lease was taken over',
            latency_ms: null,
            checked_at: Date.now(),
          })
          .execute();
      }),
      FencedOut,
    );
    const written = await db.selectFrom('health_checks').select('node').where('node', '=', 'stale-writer').execute();
    assert.equal(written.length, 0);

    // Housekeeping under the stale token: finished mail past keep_finished stays for the new holder.
    const { id } = await db
      .insertInto('queue_messages')
      .values({
        blob_hash: 'f'.repeat(64),
        prefix: '',
        size: 0,
        sender: 'old@test.example',
        message_id: null,
        subject: 'finished long ago',
        source: 'mx',
        client_ip: null,
        auth_principal_id: null,
        envid: null,
        ret: null,
        verified_from: null,
        received_at: 1,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { store, config } = holder.node.holdfast;
    const housekeeping = new Housekeeping({
      db,
      blobs: store.blobs,
      keepFinishedMs: config.queue.keepFinishedMs,
      logger: silentLogger(),
      now: Date.now,
    });
    await assert.rejects(
      housekeeping.round((trx) => stale.fence(trx, staleToken)),
      FencedOut,
    );
    assert.ok(await db.selectFrom('queue_messages').select('id').where('id', '=', id).executeTakeFirst(), 'not purged');
    const current = other.node.holdfast.cluster.singletons.lease('test-job').held!;
    assert.equal(
      (
        await housekeeping.round((trx) =>
          other.node.holdfast.cluster.singletons.lease('test-job').fence(trx, current.token),
        )
      ).purged,
      1,
      'the holder purges it',
    );

    // The others see it silent, not stopped.
    await other.waitFor(
      async () =>
        (await listNodes(db, Date.now())).find((n) => n.id === idOf(holder))?.state === 'silent' ? true : undefined,
      'the frozen node reported silent',
    );
    const counted = runs.get(idOf(other))!;
    await other.waitFor(async () => runs.get(idOf(other))! > counted, 'the job running on the new holder', 20_000);
  });
});
