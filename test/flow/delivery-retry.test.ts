// A local delivery whose transaction PostgreSQL ends on a deadlock (40P01) runs again
// (store/transient-retry.ts): the message is in the mailbox once, and the delivery is counted in the
// metrics and logged once, after the commit that made it true.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Transaction } from 'kysely';
import { loadConfig } from '../../src/config/load.ts';
import { Directory } from '../../src/directory/directory.ts';
import { deliverLocally } from '../../src/flow/delivery/local-delivery.ts';
import { insertMessage } from '../../src/flow/queue/intake-committer.ts';
import { Queue, type Outcome, type QueueDeps } from '../../src/flow/queue/queue.ts';
import { ChangeFeed } from '../../src/mailbox/change-feed.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import type { Database } from '../../src/store/schema.ts';
import { postgresSkip } from '../helpers/backends.ts';
import { LogCapture } from '../helpers/log-capture.ts';
import { TestClock } from '../helpers/node.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

/** Ends the first delivery transaction it records in as PostgreSQL does to break a deadlock. */
class DeadlockOnce extends Queue {
  deadlocks = 0;
  constructor(deps: QueueDeps) {
    super(deps);
    const outcomes = this.outcomes as unknown as {
      writeDelivered(trx: Transaction<Database>, outcomes: Outcome[]): Promise<Outcome[]>;
    };
    const write = outcomes.writeDelivered.bind(outcomes);
    outcomes.writeDelivered = async (trx, recorded) => {
      const applied = await write(trx, recorded);
      if (this.deadlocks++ === 0) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      return applied;
    };
  }
}

describe('local delivery run again after a deadlock', { skip: postgresSkip }, () => {
  let t: TestStore;
  const clock = new TestClock();

  before(async () => {
    t = await createTestStore('postgres');
    await t.directory.addForest({ name: 'default' });
    await t.directory.addTenant({ name: 'contoso' });
    const contoso = await t.directory.tenant('contoso');
    await contoso.addDomain('contoso.example');
    await contoso.addPrincipal({ kind: 'user', address: 'alice@contoso.example', password: 'Correct-Horse-7' });
  });
  after(() => t.close());

  it('delivers once, counts once and logs once', async () => {
    const { db, dialect, blobs } = t.store;
    const directory = new Directory(db, clock.now);
    const metrics = new Metrics();
    const log = new LogCapture();
    const config = loadConfig({ env: { HOLDFAST_HOSTNAME: 'mail.test.example' } });
    const queue = new DeadlockOnce({ db, dialect, blobs, directory, config, metrics, log: log.logger, now: clock.now });
    const blob = await blobs.put(Buffer.from('From: someone@outside.example\r\nSubject: once\r\n\r\nhello\r\n'));
    const tenantId = (await directory.getTenant('contoso')).id;
    await db.transaction().execute((trx) =>
      insertMessage(
        trx,
        {
          blobHash: blob.hash,
          prefix: '',
          size: blob.size,
          sender: 'someone@outside.example',
          source: 'mx',
          receivedAt: clock.now(),
          recipients: [
            {
              recipient: 'alice@contoso.example',
              originalRecipient: 'alice@contoso.example',
              route: 'local',
              domain: 'contoso.example',
              tenantId,
            },
          ],
          receivedDetail: {},
        },
        dialect,
      ),
    );
    const claimed = await queue.claim('worker', 10);
    assert.equal(claimed.length, 1);

    await deliverLocally({ db, dialect, blobs, directory, queue, changes: new ChangeFeed(), now: clock.now }, claimed);

    assert.equal(queue.deadlocks, 2, 'the transaction ran twice');
    const messages = await db.selectFrom('messages').select('id').execute();
    assert.equal(messages.length, 1, 'one copy in the mailbox');
    const counted = (await metrics.deliveryOutcomes.get()).values.filter((v) => v.labels.outcome === 'delivered');
    assert.deepEqual(
      counted.map((v) => [v.labels.route, v.value]),
      [['local', 1]],
      'counted once',
    );
    assert.equal((await metrics.deliveryLatency.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value, 1);
    assert.equal(log.records('mail delivered').length, 1, 'logged once');
  });
});
