// Losing a node of a cluster (issue 17 item 5, at the scale of npm test): two real Holdfast
// processes on one PostgreSQL database, each in its own data directory, both taking mail. One is
// killed with SIGKILL in the middle of the load. The other takes over the deliveries the dead one
// had leased once the (short) lease runs out, every message answered 250 ends up in its mailbox
// exactly once, the survivor's SMTP clients never notice, and an IMAP IDLE session on the survivor
// keeps seeing new mail.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { createBackend, postgresSkip, tempDir } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';

const password = 'Wonderland-42';
const leaseMs = 3000;
const toml = `[queue]\npoll_interval = "100ms"\nlease = "${leaseMs}ms"\n`;

describe('a node killed in a two-node cluster', { skip: postgresSkip }, () => {
  it('loses nothing, delivers nothing twice, and the survivor takes over its leases', async (t) => {
    const backend = await createBackend('postgres');
    const dirB = await tempDir();
    const common = { HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42', HOLDFAST_DATABASE_URL: backend.databaseUrl };
    const envA = loopbackEnv(backend.dataDir, { ...common, HOLDFAST_CONFIG: join(backend.dataDir, 'holdfast.toml') });
    const envB = loopbackEnv(dirB, { ...common, HOLDFAST_CONFIG: join(dirB, 'holdfast.toml') });
    await writeFile(join(backend.dataDir, 'holdfast.toml'), toml);
    await writeFile(join(dirB, 'holdfast.toml'), toml);
    await initHoldfast(envA);
    const added = await runHoldfast(['user', 'add', 'alice@test.example', '--password', password], { env: envA });
    assert.equal(added.code, 0, added.stderr);
    const nodes: StartedServer[] = [];
    const db = new pg.Client({ connectionString: backend.databaseUrl });
    after(async () => {
      await db.end().catch(() => {});
      for (const node of nodes) if (node.child.exitCode === null) await node.stop('SIGKILL');
      await backend.cleanup();
    });
    const nodeA = await startHoldfast(envA);
    nodes.push(nodeA);
    const nodeB = await startHoldfast(envB);
    nodes.push(nodeB);
    await db.connect();

    // IDLE on the survivor, counting the EXISTS it is sent (with when).
    const { talk: idle } = await ImapTalk.open(nodeB.port('imaps'), { tls: true });
    await idle.login('alice@test.example', password);
    assert.match(await idle.command('SELECT INBOX'), /\* 0 EXISTS/);
    idle.write('i1 IDLE\r\n');
    assert.match(await idle.line(), /^\+ /);
    const existsAt: number[] = [];
    let idling = true;
    const watching = (async () => {
      while (idling) {
        const line = await idle.line(60_000).catch(() => '');
        if (/^\* \d+ EXISTS/.test(line)) existsAt.push(Date.now());
        if (line.endsWith('(connection closed)')) return;
      }
    })();

    const accepted: string[] = [];
    const refusedByB: string[] = [];
    let stopAll = false;
    const sender = async (node: StartedServer, worker: number, isB: boolean) => {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: node.port('smtp'),
        secure: false,
        ignoreTLS: true,
        pool: false,
      });
      for (let i = 0; !stopAll; i++) {
        const messageId = `<kill-${worker}-${i}@test.example>`;
        try {
          const info = await transport.sendMail({
            from: 'load@outside.example',
            to: 'alice@test.example',
            subject: `load ${worker}/${i}`,
            text: 'x'.repeat(1500),
            messageId,
          });
          if (/^250 /.test(info.response)) accepted.push(messageId);
        } catch (error) {
          if (isB) refusedByB.push(`${messageId}: ${(error as Error).message}`);
          else return; // node A is gone
        }
      }
    };
    const senders = [sender(nodeA, 0, false), sender(nodeA, 1, false), sender(nodeB, 2, true), sender(nodeB, 3, true)];
    while (accepted.length < 60) await new Promise((r) => setTimeout(r, 10));

    await nodeA.stop('SIGKILL');
    const killedAt = Date.now();
    const ownerA = `%/${nodeA.child.pid}/%`;
    const leasedByA = async () =>
      Number(
        (
          await db.query(
            "select count(*)::int as n from queue_recipients where state = 'inflight' and lease_owner like $1",
            [ownerA],
          )
        ).rows[0].n,
      );
    const leftInFlight = await leasedByA();
    // The survivor keeps taking mail while A's leases run out.
    const target = accepted.length + 40;
    while (accepted.length < target) await new Promise((r) => setTimeout(r, 10));
    stopAll = true;
    await Promise.all(senders);

    // Every lease of the dead node is taken over, within the lease time (the bound detects a hang).
    for (;;) {
      if ((await leasedByA()) === 0) break;
      if (Date.now() - killedAt > leaseMs + 20_000) {
        const held = await db.query(
          'select id, state, lease_owner, lease_expires_at, next_attempt_at from queue_recipients where lease_owner like $1 limit 5',
          [ownerA],
        );
        assert.fail(
          `the dead node still holds leases at ${Date.now()}: ${JSON.stringify(held.rows)}\n${nodeB.stderr().slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(
      `${leftInFlight} deliveries were leased by the killed node; all taken over ${Date.now() - killedAt} ms after the kill (lease ${leaseMs} ms)`,
    );
    // The queue drains on the survivor alone.
    for (;;) {
      const { rows } = await db.query(
        "select count(*)::int as n from queue_recipients where state in ('queued', 'inflight', 'deferred')",
      );
      if (rows[0].n === 0) break;
      assert.ok(Date.now() - killedAt < 60_000, `${rows[0].n} recipients still waiting`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const { rows } = await db.query(
      `select q.message_id as id, count(*)::int as copies from messages m
         join queue_messages q on q.blob_hash = m.blob_hash group by q.message_id`,
    );
    const copies = new Map<string, number>(rows.map((r: { id: string; copies: number }) => [r.id, r.copies]));
    const lost = accepted.filter((id) => !copies.has(id));
    const duplicated = [...copies].filter(([, n]) => n > 1);
    assert.deepEqual(lost, [], `answered 250 but not in the mailbox (${leftInFlight} were in flight on A)`);
    assert.deepEqual(duplicated, [], 'delivered more than once');
    assert.deepEqual(refusedByB, [], "the survivor's clients saw the other node's death");
    const failed = await db.query("select count(*)::int as n from queue_recipients where state = 'failed'");
    assert.equal(failed.rows[0].n, 0);

    // IDLE on the survivor saw mail arrive after the other node died.
    assert.ok(
      existsAt.some((t) => t > killedAt),
      'IDLE on the surviving node was not told of new mail after the kill',
    );
    idling = false;
    idle.write('DONE\r\n');
    idle.close();
    await watching;
    assert.equal(nodeB.child.exitCode, null);
    assert.equal(await nodeB.stop(), 0);
  });
});
