// `holdfast start --workers 2`, the real program in its own process, on SQLite and PostgreSQL: both
// workers take connections, IDLE in one worker sees mail delivered by the other, a worker killed
// with SIGKILL is restarted while the other keeps serving (and no accepted message is lost), and
// SIGTERM stops them all cleanly. Which worker holds a connection is read from /proc (Linux).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { parseWorkers } from '../../src/server/worker-count.ts';
import { openStore } from '../../src/store/store.ts';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { childrenOf, holderOf, waitUntil } from '../helpers/worker-processes.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';

const password = 'Wonderland-42';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('--workers', () => {
  it('takes a whole number from 1 to 64, or auto for one per core', () => {
    assert.equal(parseWorkers(undefined), 1);
    assert.equal(parseWorkers('3'), 3);
    assert.equal(parseWorkers('auto', 4), 4);
    assert.equal(parseWorkers('auto', 200), 64);
    for (const bad of ['0', '65', '1.5', '-2', 'two', ''])
      assert.throws(
        () => parseWorkers(bad, 4),
        (error: Error) =>
          error.message ===
          `--workers = "${bad}" is not allowed: expected a whole number from 1 to 64, or "auto" (one per core: 4 here)`,
      );
  });

  it('refuses a bad value before starting anything, naming the option', async () => {
    const dataDir = await tempDir();
    after(() => rm(dataDir, { recursive: true, force: true }));
    const result = await runHoldfast(['start', '--workers', 'many'], { env: loopbackEnv(dataDir) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^holdfast: --workers = "many" is not allowed: expected a whole number from 1 to 64/);
  });

  it("reports a worker's failure to start as a single process would, and leaves no worker behind", async () => {
    const dataDir = await tempDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    after(async () => {
      taken.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    const port = (taken.address() as AddressInfo).port;
    const result = await runHoldfast(['start', '--workers', '2'], {
      env: loopbackEnv(dataDir, { HOLDFAST_IMAP_PORT: String(port) }),
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`holdfast: HOLDFAST_IMAP_PORT = ${port}: port ${port} on 127.0.0.1 is already in use`),
    );
  });
});

for (const name of backendNames) {
  describe(`holdfast start --workers 2 on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let server: StartedServer;
    let workers: number[];
    const clients: ImapFlow[] = [];

    const imap = async () => {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: server.port('imaps'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'alice@test.example', pass: password },
        logger: false,
      });
      // Sessions on the worker killed below end with it.
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
      const socket = (client as unknown as { socket: import('node:net').Socket }).socket;
      return { client, worker: holderOf(childrenOf(server.child.pid!), server.port('imaps'), socket.localPort!) };
    };
    const send = (subject: string, messageId?: string) =>
      nodemailer
        // A connection the primary was handing to the worker being killed waits for a greeting that
        // never comes (node:cluster's round robin): the client gives up after greetingTimeout.
        .createTransport({
          host: '127.0.0.1',
          port: server.port('smtp'),
          secure: false,
          ignoreTLS: true,
          greetingTimeout: 3000,
        })
        .sendMail({ from: 'someone@outside.example', to: 'alice@test.example', subject, text: 'hello', messageId });

    before(async () => {
      backend = await createBackend(name);
      const env = loopbackEnv(backend.dataDir, {
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      });
      await initHoldfast(env);
      const added = await runHoldfast(['user', 'add', 'alice@test.example', '--password', password], { env });
      assert.equal(added.code, 0, added.stderr);
      server = await startHoldfast(env, ['--workers', '2']);
      workers = server.summary.workers as number[];
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.logout().catch(() => c.close())));
      if (server.child.exitCode === null) await server.stop('SIGKILL');
      for (const pid of childrenOf(server.child.pid!)) process.kill(pid, 'SIGKILL');
      await backend.cleanup();
    });

    it('runs two workers under the process it printed, and both take connections', async () => {
      assert.equal(server.summary.pid, server.child.pid);
      assert.equal(workers.length, 2);
      assert.deepEqual(childrenOf(server.child.pid!).sort(), [...workers].sort());
      const holders = new Set<number | undefined>();
      for (let i = 0; i < 6 && holders.size < 2; i++) holders.add((await imap()).worker);
      assert.deepEqual([...holders].sort(), [...workers].sort(), 'connections spread over both workers');
    });

    it('wakes IDLE sessions in both workers when mail is delivered by one of them', async () => {
      const sessions: Awaited<ReturnType<typeof imap>>[] = [];
      while (new Set(sessions.map((s) => s.worker)).size < 2) {
        sessions.push(await imap());
        assert.ok(sessions.length < 10, 'IDLE sessions on both workers');
      }
      const idling = [sessions.find((s) => s.worker === workers[0])!, sessions.find((s) => s.worker === workers[1])!];
      const woken = await Promise.all(
        idling.map(async ({ client }) => {
          await client.mailboxOpen('INBOX');
          const before = (client.mailbox as { exists: number }).exists;
          const arrived = new Promise<number>((resolve) =>
            client.on('exists', (data: { count: number }) => resolve(data.count)),
          );
          void client.idle();
          return { before, arrived };
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await send('across workers');
      for (const { before, arrived } of woken) {
        const count = await Promise.race([
          arrived,
          new Promise<number>((_, reject) => setTimeout(() => reject(new Error('IDLE did not wake')), 30_000)),
        ]);
        assert.equal(count, before + 1);
      }
    });

    it('restarts a worker killed with SIGKILL while the other serves, and loses nothing accepted', async () => {
      const accepted: string[] = [];
      let stop = false;
      const sender = async (n: number) => {
        for (let i = 0; !stop; i++) {
          const id = `<kill-${n}-${i}@test.example>`;
          try {
            if (/^250 /.test((await send(`load ${n}/${i}`, id)).response)) accepted.push(id);
          } catch {
            // a connection the killed worker held: not accepted, the client retries elsewhere
          }
        }
      };
      const senders = [0, 1, 2, 3].map(sender);
      await waitUntil('some accepted mail', () => accepted.length >= 20);
      const [victim, survivor] = workers as [number, number];
      process.kill(victim, 'SIGKILL');
      const atKill = accepted.length;
      await waitUntil('mail accepted after the kill', () => accepted.length >= atKill + 20);
      const replacement = await waitUntil('a new worker', () =>
        childrenOf(server.child.pid!).find((pid) => pid !== survivor && pid !== victim),
      );
      assert.ok(!alive(victim));
      assert.ok(alive(survivor));
      // The new worker takes connections too, once it has started (the primary says so).
      await waitUntil('the new worker to start', () =>
        new RegExp(`"workerPid":${replacement},"msg":"worker started"`).test(server.stderr()),
      );
      const holders = [(await imap()).worker, (await imap()).worker, (await imap()).worker];
      assert.ok(holders.includes(replacement), `a connection on the new worker ${replacement}: ${holders}`);
      stop = true;
      await Promise.all(senders);

      const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
      try {
        await waitUntil('the queue to empty', async () => {
          const waiting = await store.db
            .selectFrom('queue_recipients')
            .select('id')
            .where('state', 'in', ['queued', 'inflight', 'deferred'])
            .execute();
          return waiting.length === 0;
        });
        const rows = await store.db
          .selectFrom('messages')
          .innerJoin('queue_messages', 'queue_messages.blob_hash', 'messages.blob_hash')
          .select(['queue_messages.message_id as messageId'])
          .execute();
        const copies = new Map<string, number>();
        for (const r of rows) copies.set(r.messageId!, (copies.get(r.messageId!) ?? 0) + 1);
        for (const id of accepted) assert.equal(copies.get(id), 1, `${id} was answered 250: once in the mailbox`);
        for (const [id, count] of copies) assert.equal(count, 1, `${id} delivered ${count} times`);
      } finally {
        await store.close();
      }
      workers = childrenOf(server.child.pid!);
      assert.match(server.stderr(), /worker died; restarting it/);
    });

    it('stops every worker on SIGTERM, cleanly', async () => {
      await Promise.all(clients.splice(0).map((c) => c.logout().catch(() => c.close())));
      assert.equal(await server.stop('SIGTERM'), 0);
      for (const pid of workers) assert.ok(!alive(pid), `worker ${pid} has exited`);
    });
  });
}
