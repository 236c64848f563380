// Nothing accepted is lost: a server killed with SIGKILL under concurrent load delivers, after a
// restart, every message it answered 250 for, exactly once.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { openStore } from '../../src/store/store.ts';
import { backendNames, createBackend, skipFor } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast } from '../helpers/cli.ts';

for (const name of backendNames) {
  describe(`crash safety on ${name}`, { skip: skipFor(name) }, () => {
    it("delivers every 250'd message exactly once after kill -9 and restart", async () => {
      const backend = await createBackend(name);
      const env = loopbackEnv(backend.dataDir, {
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      });
      try {
        await initHoldfast(env);
        assert.equal(
          (await runHoldfast(['user', 'add', 'alice@test.example', '--password', 'Wonderland-42'], { env })).code,
          0,
        );
        const server = await startHoldfast(env);
        after(() => server.child.kill('SIGKILL'));
        const port = server.port('smtp');
        const accepted: string[] = [];
        let stop = false;
        const sender = async (worker: number) => {
          const transport = nodemailer.createTransport({
            host: '127.0.0.1',
            port,
            secure: false,
            ignoreTLS: true,
            pool: false,
          });
          for (let i = 0; !stop; i++) {
            const messageId = `<crash-${worker}-${i}@test.example>`;
            try {
              const info = await transport.sendMail({
                from: 'load@outside.example',
                to: 'alice@test.example',
                subject: `load ${worker}/${i}`,
                text: 'x'.repeat(2000),
                messageId,
              });
              if (/^250 /.test(info.response)) accepted.push(messageId);
            } catch {
              return; // the server is gone
            }
          }
        };
        const senders = [0, 1, 2, 3, 4, 5].map(sender);
        while (accepted.length < 60) await new Promise((r) => setTimeout(r, 10));
        const killed = server.stop('SIGKILL');
        stop = true;
        await Promise.all(senders);
        await killed;

        const restarted = await startHoldfast(env);
        after(() => restarted.child.kill('SIGKILL'));
        const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
        try {
          const deadline = Date.now() + 30_000;
          for (;;) {
            const waiting = await store.db
              .selectFrom('queue_recipients')
              .select('id')
              .where('state', 'in', ['queued', 'inflight', 'deferred'])
              .execute();
            if (waiting.length === 0) break;
            assert.ok(Date.now() < deadline, `${waiting.length} recipients still waiting after restart`);
            await new Promise((r) => setTimeout(r, 100));
          }
          const rows = await store.db
            .selectFrom('messages')
            .innerJoin('queue_messages', 'queue_messages.blob_hash', 'messages.blob_hash')
            .select(['queue_messages.message_id as messageId'])
            .execute();
          const copies = new Map<string, number>();
          for (const r of rows) copies.set(r.messageId!, (copies.get(r.messageId!) ?? 0) + 1);
          for (const id of accepted)
            assert.equal(copies.get(id), 1, `${id} was answered 250 and must be in the mailbox exactly once`);
          for (const [id, count] of copies) assert.equal(count, 1, `${id} delivered ${count} times`);
          const failed = await store.db
            .selectFrom('queue_recipients')
            .select('id')
            .where('state', '=', 'failed')
            .execute();
          assert.equal(failed.length, 0);
        } finally {
          await store.close();
          assert.equal(await restarted.stop(), 0);
        }
      } finally {
        await backend.cleanup();
      }
    });
  });
}
