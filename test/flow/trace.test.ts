// Trace events are written in one statement per step (flow/trace.ts): every event arrives, in the
// order given, with its detail exactly as written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertMessage } from '../../src/flow/queue/intake-committer.ts';
import { writeTrace, type TraceEvent } from '../../src/flow/trace.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

for (const name of backendNames) {
  describe(`trace events on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let messageId: number;

    before(async () => {
      t = await createTestStore(name);
      const blob = await t.store.blobs.put(Buffer.from('Subject: x\r\n\r\nbody\r\n'));
      messageId = await t.store.db.transaction().execute((trx) =>
        insertMessage(
          trx,
          {
            blobHash: blob.hash,
            prefix: '',
            size: 10,
            sender: 'a@b.example',
            source: 'submission',
            receivedAt: 1,
            recipients: [],
            receivedDetail: {},
          },
          t.store.dialect,
        ),
      );
    });
    after(() => t.close());

    it('writes a batch of events in order, details as given', async () => {
      const events: TraceEvent[] = [
        {
          messageId,
          event: 'attempt',
          at: 1_800_000_000_000,
          detail: { reply: 'quote " backslash \\ newline \n brace { comma ,', unicode: 'Grüße 📨' },
        },
        {
          messageId,
          recipientId: 42,
          event: 'deferred',
          at: 1_800_000_000_000,
          detail: { attempt: 2, remoteMta: null },
        },
        { messageId, recipientId: null, event: 'retry', at: 1_800_000_000_001 },
      ];
      await writeTrace(t.store.db, []);
      await t.store.db.transaction().execute((trx) => writeTrace(trx, events));
      const rows = await t.store.db
        .selectFrom('trace_events')
        .select(['message_id', 'recipient_id', 'at', 'event', 'detail'])
        .where('message_id', '=', messageId)
        .where('event', '!=', 'received')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows.map((r) => [
          Number(r.message_id),
          r.recipient_id === null ? null : Number(r.recipient_id),
          Number(r.at),
          r.event,
          JSON.parse(r.detail),
        ]),
        events.map((e) => [e.messageId, e.recipientId ?? null, e.at, e.event, e.detail ?? {}]),
      );
    });
  });
}
