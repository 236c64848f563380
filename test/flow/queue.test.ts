import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { insertMessage, type NewRecipient } from '../../src/flow/queue/intake-committer.ts';
import { QueueAdmin } from '../../src/flow/queue/queue-admin.ts';
import { Queue, type ClaimedRecipient } from '../../src/flow/queue/queue.ts';
import { traceMessages } from '../../src/flow/queue/trace-query.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { TestClock } from '../helpers/node.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

for (const name of backendNames) {
  describe(`queue on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let queue: Queue;
    let admin: QueueAdmin;
    const clock = new TestClock();
    let blobHash: string;

    const enqueue = async (tenantId: number, count: number, subject: string, sender = 'someone@outside.example') => {
      const recipients: NewRecipient[] = Array.from({ length: count }, (_, i) => ({
        recipient: `r${i}@far.example`,
        originalRecipient: `r${i}@far.example`,
        route: 'remote',
        domain: 'far.example',
        tenantId,
      }));
      return t.store.db.transaction().execute((trx) =>
        insertMessage(
          trx,
          {
            blobHash,
            prefix: '',
            size: 10,
            sender,
            subject,
            source: 'submission',
            receivedAt: clock.now(),
            recipients,
            receivedDetail: {},
          },
          t.store.dialect,
        ),
      );
    };

    before(async () => {
      t = await createTestStore(name);
      await t.directory.addForest({ name: 'default' });
      await t.directory.addTenant({ name: 'bulk' });
      await t.directory.addTenant({ name: 'small' });
      const config = loadConfig({ env: { HOLDFAST_HOSTNAME: 'mail.test.example' } });
      queue = new Queue({
        db: t.store.db,
        dialect: t.store.dialect,
        blobs: t.store.blobs,
        directory: t.directory,
        config,
        now: clock.now,
      });
      admin = new QueueAdmin(t.store.db, queue, clock.now);
      blobHash = (await t.store.blobs.put(Buffer.from('Subject: x\r\n\r\nbody\r\n'))).hash;
    });
    after(() => t.close());

    it('shares the active set fairly between tenants, and between new and retried mail', async () => {
      const bulk = (await t.directory.getTenant('bulk')).id;
      const small = (await t.directory.getTenant('small')).id;
      await enqueue(bulk, 200, 'bulk send');
      clock.advance(1000);
      await enqueue(small, 2, 'small send');
      const claimed = await queue.claim('worker-a', 10);
      assert.equal(claimed.length, 10);
      const byTenant = (id: number) => claimed.filter((c) => c.tenantId === id).length;
      assert.equal(byTenant(small), 2, 'the small tenant is not starved by an older bulk backlog');
      assert.equal(byTenant(bulk), 8, 'the rest of the active set goes to the bulk tenant');

      // Retried mail does not crowd out fresh mail either.
      await queue.recordDeferred(claimed.map((recipient) => ({ recipient, reply: '451 4.0.0 later' })));
      clock.advance(2 * 3_600_000); // every retry is due
      await enqueue(small, 3, 'fresh after backlog');
      const next = await queue.claim('worker-a', 6);
      const fresh = next.filter((c) => c.attempts === 0 && c.tenantId === small);
      assert.ok(fresh.length >= 2, `fresh mail gets its share (${fresh.length} of 6)`);
      await queue.recordDelivered(next.map((recipient) => ({ recipient, reply: '250 ok' })));
      // Drain the rest so later tests start from an empty queue.
      for (;;) {
        const batch = await queue.claim('drain', 100);
        if (batch.length === 0) break;
        await queue.recordDelivered(batch.map((recipient) => ({ recipient, reply: '250 ok' })));
      }
    });

    it('lets another worker take over an expired lease, and ignores the late outcome', async () => {
      await enqueue((await t.directory.getTenant('small')).id, 1, 'leased');
      const [first] = await queue.claim('crashed-worker', 10);
      assert.ok(first);
      assert.deepEqual(await queue.claim('other-worker', 10), [], 'a live lease is not taken');
      clock.advance(3 * 60_000); // past the 2 minute lease
      const [takenOver] = await queue.claim('other-worker', 10);
      assert.equal(takenOver?.id, first.id);
      await queue.recordDelivered([{ recipient: first, reply: '250 late' }]);
      const row = await t.store.db
        .selectFrom('queue_recipients')
        .select(['state', 'lease_owner'])
        .where('id', '=', first.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        row,
        { state: 'inflight', lease_owner: 'other-worker' },
        'the stale worker cannot record an outcome',
      );
      await queue.recordDelivered([{ recipient: takenOver!, reply: '250 ok' }]);
      assert.equal(
        (
          await t.store.db
            .selectFrom('queue_recipients')
            .select('state')
            .where('id', '=', first.id)
            .executeTakeFirstOrThrow()
        ).state,
        'delivered',
      );
    });

    it('holds, releases, retries and bounces messages for the administrator, with a trace', async () => {
      const id = await enqueue((await t.directory.getTenant('small')).id, 2, 'admin actions', 'nobody@nowhere.example');
      await admin.hold(id);
      assert.deepEqual(await queue.claim('w', 10), [], 'held mail is not delivered');
      assert.equal((await admin.list({ domain: 'far.example' })).filter((e) => e.messageId === id && e.held).length, 2);
      await admin.release(id);
      const claimed = await queue.claim('w', 10);
      assert.equal(claimed.length, 2);
      await queue.recordDeferred(claimed.map((recipient) => ({ recipient, reply: '451 4.4.1 no answer' })));
      assert.deepEqual(await queue.claim('w', 10), [], 'deferred until the next retry');
      assert.equal(await admin.retry({ messageId: id }), 2);
      const again = await queue.claim('w', 10);
      assert.equal(again.length, 2);
      await queue.recordDeferred(again.map((recipient) => ({ recipient, reply: '451 4.4.1 no answer' })));
      assert.equal(await admin.bounce(id), 2);
      const shown = await admin.show(id);
      assert.deepEqual(
        shown.recipients.map((r) => r.state),
        ['failed', 'failed'],
      );
      assert.match(shown.recipients[0]!.lastReply!, /removed from the queue by the administrator/);
      const events = shown.trace.map((e) => e.event);
      for (const event of ['received', 'queued', 'held', 'released', 'deferred', 'retry', 'bounced'])
        assert.ok(events.includes(event), `trace has ${event}`);
      const traced = await traceMessages(t.store.db, { recipient: 'r1@far.example', since: clock.now() - 60_000 });
      assert.ok(traced.some((m) => m.id === id));
      await assert.rejects(admin.hold(99999), { code: 'unknown-message', message: 'no message 99999 in the queue' });
    });

    it('claims from more tenants than one statement reads, each its share', async () => {
      // The claim reads the due mail of 50 tenants per statement (queue.ts, oldestDue).
      const tenants: number[] = [];
      for (let i = 0; i < 60; i++) tenants.push((await t.directory.addTenant({ name: `many-${i}` })).id);
      for (const tenantId of tenants) await enqueue(tenantId, 2, 'many tenants');
      clock.advance(1000);
      const ours = (claimed: ClaimedRecipient[]) => claimed.filter((c) => tenants.includes(c.tenantId!));
      const first = ours(await queue.claim('w', 61)); // 61: earlier tests left a DSN without tenant
      assert.deepEqual(
        first.map((c) => c.tenantId).sort(),
        [...tenants].sort(),
        'one each: an equal share for every tenant',
      );
      const rest = ours(await queue.claim('w', 200));
      assert.equal(rest.length, 60);
      await queue.recordDelivered([...first, ...rest].map((recipient) => ({ recipient, reply: '250 ok' })));
    });
  });
}
