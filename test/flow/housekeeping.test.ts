// Retention: finished mail leaves the queue tables after [queue] keep_finished, and content goes once
// no mailbox message or queue entry uses it — never while a new message is being stored with it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { Housekeeping } from '../../src/flow/queue/housekeeping.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const hour = 3_600_000;

for (const name of backendNames) {
  describe(`Housekeeping on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let housekeeping: Housekeeping;
    before(async () => {
      t = await startTestNode(name, { toml: '[queue]\nkeep_finished = "1h"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      const { store, config } = t.node.holdfast;
      housekeeping = new Housekeeping({
        db: store.db,
        blobs: store.blobs,
        keepFinishedMs: config.queue.keepFinishedMs,
        logger: silentLogger(),
        now: t.clock.now,
      });
    });
    after(() => t.stop());

    const queued = (subject: string) =>
      t.node.holdfast.store.db
        .selectFrom('queue_messages')
        .select(['id', 'blob_hash'])
        .where('subject', '=', subject)
        .executeTakeFirst();

    it('purges finished mail after keep_finished, and deletes content once its last copy is expunged', async () => {
      const smtp = nodemailer.createTransport({
        host: '127.0.0.1',
        port: t.port('smtp'),
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      const big = 'y'.repeat(76).concat('\r\n').repeat(5000); // past the inline limit: a file on SQLite
      for (const [subject, text] of [
        ['small one', 'hello'],
        ['big one', big],
      ])
        await smtp.sendMail({ from: 'sender@remote.example', to: 'alice@test.example', subject, text });
      await t.waitFor(async () => (await t.mailbox('alice@test.example')).length === 2, 'both delivered');
      const small = (await queued('small one'))!;
      const large = (await queued('big one'))!;
      const { blobs, db } = t.node.holdfast.store;

      assert.deepEqual(await housekeeping.round(), { purged: 0, contentsDeleted: 0 }, 'nothing is an hour old yet');
      t.clock.advance(2 * hour);
      assert.equal((await housekeeping.round()).purged, 2);
      assert.equal(await queued('small one'), undefined, 'the queue entry is gone');
      const trace = await db
        .selectFrom('trace_events')
        .select('id')
        .where('message_id', 'in', [small.id, large.id])
        .execute();
      assert.equal(trace.length, 0, 'and its trace events');
      assert.ok(
        (await blobs.has(small.blob_hash)) && (await blobs.has(large.blob_hash)),
        'the mailbox still holds the content',
      );
      t.clock.advance(2 * 60_000);
      assert.equal((await housekeeping.round()).contentsDeleted, 0, 'content in use stays');

      const imap = new ImapFlow({
        host: '127.0.0.1',
        port: t.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'alice@test.example', pass: password },
        logger: false,
      });
      await imap.connect();
      await imap.mailboxOpen('INBOX');
      await imap.messageDelete('1:*');
      await imap.logout();

      await housekeeping.round(); // finds them unused
      assert.ok(await blobs.has(small.blob_hash), 'not on the first round that finds it unused');
      t.clock.advance(2 * 60_000);
      assert.equal((await housekeeping.round()).contentsDeleted, 2);
      for (const hash of [small.blob_hash, large.blob_hash]) {
        assert.equal(await blobs.has(hash), false);
        assert.equal(
          await db.selectFrom('blob_metadata').select('hash').where('hash', '=', hash).executeTakeFirst(),
          undefined,
        );
      }
    });

    it('keeps content that was stored again within the hour, though nothing refers to it yet', async () => {
      const { blobs, db } = t.node.holdfast.store;
      const content = Buffer.from('x'.repeat(300_000));
      const { hash } = await blobs.put(content);
      // Known to the collector as unused (as after an expunge), then stored again for a new message.
      await db
        .insertInto('blob_metadata')
        .values({ hash, tree: '{}', envelope: '{}', headers: '[]', sent_at: null, created_at: t.clock.now() })
        .execute();
      await housekeeping.round();
      t.clock.advance(2 * hour);
      await blobs.put(content);
      await housekeeping.round();
      assert.ok(await blobs.has(hash), 'stored again less than an hour ago: kept');
      t.clock.advance(2 * hour);
      await housekeeping.round(); // seen unused again
      t.clock.advance(2 * 60_000);
      await housekeeping.round();
      assert.equal(await blobs.has(hash), false, 'unused and not stored again for an hour: deleted');
      assert.equal((await readBack(blobs, hash)).code, 'blob-not-found');
    });
  });
}

async function readBack(blobs: TestNode['node']['holdfast']['store']['blobs'], hash: string) {
  try {
    for await (const _ of blobs.open(hash));
    return { code: 'found' };
  } catch (error) {
    return { code: (error as { code?: string }).code };
  }
}
