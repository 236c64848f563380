// Final delivery and the one quota rule (mailbox/quota.ts): a message that brings the mailbox
// exactly to its limit is delivered, one byte more is not; the bytes counted are those stored,
// the Return-Path and Delivered-To lines delivery adds included.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deliver, deliveryHeaders, type DeliveredMessage } from '../../src/mailbox/delivery.ts';
import { usedBytes } from '../../src/mailbox/folders.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

for (const name of backendNames) {
  describe(`delivery into a mailbox on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    before(async () => {
      t = await createTestStore(name);
      await t.directory.addForest({ name: 'default' });
      await t.directory.addTenant({ name: 'contoso' });
      const contoso = await t.directory.tenant('contoso');
      await contoso.addDomain('contoso.example');
    });
    after(() => t.close());

    it('delivers a message that brings usage exactly to the quota, and refuses one byte more', async () => {
      const contoso = await t.directory.tenant('contoso');
      const headers = Buffer.byteLength(deliveryHeaders('bob@outside.example', 'edge@contoso.example'));
      const recipient = await contoso.addPrincipal({
        kind: 'user',
        address: 'edge@contoso.example',
        password: 'Correct-Horse-7',
        quotaBytes: 2 * (headers + 100),
      });
      const blob = await t.store.blobs.put(Buffer.from('x'.repeat(100)));
      const message = (size: number): DeliveredMessage => ({
        sender: 'bob@outside.example',
        blobHash: blob.hash,
        prefix: '',
        size,
        receivedAt: 0,
      });
      const run = (size: number, key: string) =>
        t.store.db.transaction().execute((trx) => deliver(trx, [{ recipient, message: message(size), key }], 0));

      const [first, second] = await t.store.db.transaction().execute((trx) =>
        deliver(
          trx,
          [
            { recipient, message: message(100), key: 'edge:1' },
            { recipient, message: message(100), key: 'edge:2' },
          ],
          0,
        ),
      );
      assert.equal(first?.delivered, true);
      assert.equal(second?.delivered, true, 'the second brings the mailbox exactly to its quota');
      assert.equal(await usedBytes(t.store.db, recipient.id), recipient.quotaBytes);
      assert.deepEqual(
        await run(1, 'edge:3'),
        [{ delivered: false, quotaBytes: recipient.quotaBytes }],
        'nothing more fits',
      );
    });
  });
}
