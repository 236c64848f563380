// smtp.max_connections_per_ip, a resource forest's --max-connections and imap.max_connections_per_user
// hold for the whole machine under `holdfast start --workers 2` (the real program, real sockets): the primary keeps the counts, a
// connection over the limit gets the same refusal a single process gives whichever worker takes it,
// and a worker killed with SIGKILL gives back what it held. Also the two halves on their own: the
// primary's bookkeeping, and a worker's client when the primary answers late or not at all.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConnectionLimits } from '../../src/flow/intake/connection-limits.ts';
import type { SmtpReply } from '../../src/flow/intake/smtp-reply.ts';
import { MachineLimits } from '../../src/server/machine-limits.ts';
import { MachineLimitsClient, type PrimaryChannel } from '../../src/server/machine-limits-client.ts';
import type { WorkerMessage } from '../../src/server/worker-messages.ts';
import { createBackend, type TestBackend } from '../helpers/backends.ts';
import { childrenOf, holderOf, waitUntil } from '../helpers/worker-processes.ts';
import type { StartedServer } from '../helpers/cli.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { LogCapture } from '../helpers/log-capture.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';
import { alicePassword, startWithAlice } from './started-server.ts';

const smtpRefusal =
  '421 4.3.2 The maximum number of concurrent server connections has exceeded a per-source limit (3), closing transmission channel';
const forestRefusal =
  '421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit (forest default: 2), closing transmission channel';
const imapRefusal = /^t\d+ NO \[LIMIT\] Too many open sessions for alice@test\.example \(limit 2\); close some/m;

describe('machine-wide limits: the primary’s counts', () => {
  it('grants up to the limit across workers, takes gives only from holders, and frees a dead worker’s slots', () => {
    const limits = new MachineLimits();
    assert.equal(limits.take(1, 'smtp-ip', '10.0.0.1', 3), true);
    assert.equal(limits.take(2, 'smtp-ip', '10.0.0.1', 3), true);
    assert.equal(limits.take(2, 'smtp-ip', '10.0.0.1', 3), true);
    assert.equal(limits.take(1, 'smtp-ip', '10.0.0.1', 3), false, 'the fourth on the machine');
    assert.equal(limits.take(1, 'smtp-ip', '10.0.0.2', 3), true, 'another address counts apart');
    assert.equal(limits.take(1, 'imap-user', '10.0.0.1', 1), true, 'another kind counts apart');
    limits.give(3, 'smtp-ip', '10.0.0.1'); // worker 3 holds nothing: nothing changes
    assert.equal(limits.count('smtp-ip', '10.0.0.1'), 3);
    assert.equal(limits.releaseWorker(2), 2);
    assert.equal(limits.count('smtp-ip', '10.0.0.1'), 1);
    assert.equal(limits.releaseWorker(2), 0, 'a worker is released once');
    limits.give(1, 'smtp-ip', '10.0.0.1');
    assert.equal(limits.count('smtp-ip', '10.0.0.1'), 0);
    assert.equal(limits.releaseWorker(1), 2);
    assert.equal(limits.count('imap-user', '10.0.0.1'), 0);
  });

  it('takes the limit given with each take (a forest lowered while in use lets no one in until under it)', () => {
    const limits = new MachineLimits();
    assert.equal(limits.take(1, 'smtp-forest', '7', 3), true);
    assert.equal(limits.take(2, 'smtp-forest', '7', 3), true);
    assert.equal(limits.take(1, 'smtp-forest', '7', 1), false, 'lowered to 1 with 2 in use');
    limits.give(1, 'smtp-forest', '7');
    assert.equal(limits.take(2, 'smtp-forest', '7', 1), false, 'still 1 in use');
    limits.give(2, 'smtp-forest', '7');
    assert.equal(limits.take(2, 'smtp-forest', '7', 1), true);
    assert.equal(limits.take(1, 'smtp-ip', '7', 1), true, 'a forest and an address of the same key count apart');
  });
});

describe('machine-wide limits: a worker’s client', () => {
  /** A channel to a primary the test answers for, by hand. */
  const fakePrimary = () => {
    const sent: WorkerMessage[] = [];
    const channel: PrimaryChannel = {
      connected: () => true,
      send: (m, done) => {
        sent.push(m);
        done(null);
      },
    };
    return { sent, channel };
  };

  it('matches answers by id, and gives back only what the primary granted', async () => {
    const { sent, channel } = fakePrimary();
    const client = new MachineLimitsClient(channel, new LogCapture().logger, 5_000);
    const ips = client.count('smtp-ip', 3);
    const first = ips.take('10.0.0.1');
    const second = ips.take('10.0.0.1');
    assert.deepEqual(sent, [
      { holdfast: 'take', id: 1, kind: 'smtp-ip', key: '10.0.0.1', max: 3 },
      { holdfast: 'take', id: 2, kind: 'smtp-ip', key: '10.0.0.1', max: 3 },
    ]);
    client.receive({ holdfast: 'taken', id: 2, granted: false });
    client.receive({ holdfast: 'taken', id: 1, granted: true });
    assert.equal(await first, true);
    assert.equal(await second, false);
    ips.give('10.0.0.1');
    ips.give('10.0.0.1'); // the refused one held nothing
    assert.deepEqual(sent.slice(2), [{ holdfast: 'give', kind: 'smtp-ip', key: '10.0.0.1' }]);
  });

  it('sends the limit given with each take of a per-key limit', async () => {
    const { sent, channel } = fakePrimary();
    const client = new MachineLimitsClient(channel, new LogCapture().logger, 5_000);
    const forests = client.limit('smtp-forest');
    const taken = forests.take('7', 2);
    assert.deepEqual(sent, [{ holdfast: 'take', id: 1, kind: 'smtp-forest', key: '7', max: 2 }]);
    client.receive({ holdfast: 'taken', id: 1, granted: true });
    assert.equal(await taken, true);
    forests.give('7');
    assert.deepEqual(sent[1], { holdfast: 'give', kind: 'smtp-forest', key: '7' });
  });

  it('has a session’s forest counted by the primary, and by this process alone when the primary does not answer', async () => {
    const answers: (boolean | undefined)[] = [true, false, undefined, undefined];
    const given: string[] = [];
    const limits = new ConnectionLimits(20, undefined, {
      take: async (key, max) => {
        assert.deepEqual([key, max], ['7', 2]);
        return answers.shift();
      },
      give: (key) => given.push(key),
    });
    await limits.acquireForest(7, 2, 'eu'); // granted
    await assert.rejects(Promise.resolve(limits.acquireForest(7, 2, 'eu')), (reply: SmtpReply) => {
      assert.equal(
        reply.reply,
        '421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit (forest eu: 2), closing transmission channel',
      );
      return true;
    });
    await limits.acquireForest(7, 2, 'eu'); // no answer: 1 here, under 2
    await assert.rejects(Promise.resolve(limits.acquireForest(7, 2, 'eu')), /forest eu: 2/); // no answer: 2 here
    assert.deepEqual(limits.forestUsage(), [{ forest: 'eu', open: 2, limit: 2 }]);
    limits.releaseForest(7);
    assert.deepEqual(given, ['7']);
    assert.deepEqual(limits.forestUsage(), [{ forest: 'eu', open: 1, limit: 2 }]);
  });

  it('answers "no answer" when the primary is late, logs it once, and gives back a late grant', async () => {
    const { sent, channel } = fakePrimary();
    const log = new LogCapture();
    const client = new MachineLimitsClient(channel, log.logger, 20);
    const users = client.count('imap-user', 2);
    assert.equal(await users.take('7'), undefined);
    assert.equal(await users.take('7'), undefined);
    const warned = log.records().filter((r) => r.level === 40);
    assert.equal(warned.length, 1, 'logged once');
    assert.match(warned[0]!.msg, /the primary did not answer/);
    client.receive({ holdfast: 'taken', id: 1, granted: true });
    client.receive({ holdfast: 'taken', id: 2, granted: false });
    assert.deepEqual(sent.slice(2), [{ holdfast: 'give', kind: 'imap-user', key: '7' }]);
    users.give('7'); // counted locally: nothing to give the primary
    assert.equal(sent.length, 3);
    // On time again: said once, and a later silence is logged again.
    const third = users.take('7');
    client.receive({ holdfast: 'taken', id: 3, granted: true });
    assert.equal(await third, true);
    assert.equal(log.records().filter((r) => /answers again/.test(r.msg)).length, 1);
  });

  it('does not wait for a primary whose channel is closed', async () => {
    const client = new MachineLimitsClient(
      { connected: () => false, send: () => assert.fail('nothing is sent') },
      new LogCapture().logger,
      60_000,
    );
    assert.equal(await client.count('smtp-ip', 3).take('10.0.0.1'), undefined);
  });
});

const localPort = (talk: SmtpTalk | ImapTalk) => (talk as unknown as { socket: Socket }).socket.localPort!;

/** A server with smtp.max_connections_per_ip = 3, imap.max_connections_per_user = 2, the default forest's limit 2, and alice. */
const limitedServer = (backend: TestBackend, args: string[]) =>
  startWithAlice(backend, '[smtp]\nmax_connections_per_ip = 3\n[imap]\nmax_connections_per_user = 2\n', args, [
    ['forest', 'set', 'default', '--max-connections', '2'],
  ]);

for (const workers of [1, 2]) {
  describe(`holdfast start --workers ${workers}: limits per machine`, () => {
    let backend: TestBackend;
    let server: StartedServer;
    const open: (SmtpTalk | ImapTalk)[] = [];

    const smtp = async (localAddress?: string) => {
      const { talk, greeting } = await SmtpTalk.open(server.port('smtp'), { localAddress });
      open.push(talk);
      return { talk, greeting };
    };
    /** An IMAP session over 993; `reply` is LOGIN's answer. */
    const imap = async () => {
      const { talk } = await ImapTalk.open(server.port('imaps'), { tls: true });
      open.push(talk);
      return { talk, reply: await talk.command(`LOGIN "alice@test.example" "${alicePassword}"`) };
    };
    const quit = async (talk: SmtpTalk) => {
      assert.match(await talk.send('QUIT'), /^221 /);
      await waitUntil('the server to close', () => talk.isClosed);
    };
    const logout = async (talk: ImapTalk) => {
      assert.match(await talk.command('LOGOUT'), / OK /);
      await waitUntil('the server to close', () => talk.isClosed);
    };
    /** Opens SMTP connections until one is refused (the limit reached); the refused ones are closed by the server. */
    const smtpRefusedTimes = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { talk, greeting } = await smtp();
        assert.equal(greeting, smtpRefusal);
        await waitUntil('the refused connection to close', () => talk.isClosed);
      }
    };

    before(async () => {
      backend = await createBackend('sqlite');
      server = await limitedServer(backend, workers > 1 ? ['--workers', String(workers)] : []);
    });
    after(async () => {
      for (const talk of open) talk.close();
      if (server.child.exitCode === null) await server.stop('SIGKILL');
      for (const pid of childrenOf(server.child.pid!)) process.kill(pid, 'SIGKILL');
      await backend.cleanup();
    });

    it('refuses the 4th SMTP connection from one address whichever worker takes it, and takes one again after a close', async () => {
      const held = [await smtp(), await smtp(), await smtp()];
      for (const { greeting } of held) assert.match(greeting, /^220 /);
      if (workers > 1) {
        const pids = childrenOf(server.child.pid!);
        const holders = new Set(held.map(({ talk }) => holderOf(pids, server.port('smtp'), localPort(talk))));
        assert.equal(holders.size, 2, 'the three connections are on both workers: each has room of its own');
      }
      // Round robin hands these to both workers in turn: every one is refused.
      await smtpRefusedTimes(4);
      await quit(held[0]!.talk);
      // The close reaches the primary by IPC: the next connection may arrive a moment before it.
      const again = await waitUntil('a connection taken again', async () => {
        const { talk, greeting } = await smtp();
        if (/^220 /.test(greeting)) return talk;
        await waitUntil('the refused connection to close', () => talk.isClosed);
        return undefined;
      });
      await smtpRefusedTimes(2);
      await Promise.all([quit(again), quit(held[1]!.talk), quit(held[2]!.talk)]);
    });

    /**
     * An SMTP session that has touched alice's forest (RCPT); `reply` is RCPT's answer. Each comes from a
     * loopback address of its own: a closed session's per-address slot reaches the primary by IPC a moment
     * after the close, and must not refuse the next session before the forest is asked.
     */
    let forestClients = 0;
    const inForest = async () => {
      const n = forestClients++;
      const { talk, greeting } = await smtp(`127.0.${1 + Math.floor(n / 200)}.${10 + (n % 200)}`);
      assert.match(greeting, /^220 /);
      assert.match(await talk.send('EHLO client.example'), /^250/);
      assert.match(await talk.send('MAIL FROM:<sender@remote.example>'), /^250 /);
      return { talk, reply: await talk.send('RCPT TO:<alice@test.example>') };
    };

    it('refuses a third SMTP session in a forest of 2 at RCPT whichever worker takes it, and takes one after a QUIT', async () => {
      const held = [await inForest(), await inForest()];
      for (const { reply } of held) assert.match(reply, /^250 /);
      if (workers > 1) {
        const pids = childrenOf(server.child.pid!);
        const holders = new Set(held.map(({ talk }) => holderOf(pids, server.port('smtp'), localPort(talk))));
        assert.equal(holders.size, 2, 'one session on each worker: each alone is under the limit');
      }
      // The third, on either worker, is over the machine's limit.
      const third = await inForest();
      assert.equal(third.reply, forestRefusal);
      await waitUntil('the refused connection to close', () => third.talk.isClosed);
      await quit(held[0]!.talk);
      const again = await waitUntil('a session in the forest again', async () => {
        const { talk, reply } = await inForest();
        if (/^250 /.test(reply)) return talk;
        assert.equal(reply, forestRefusal);
        await waitUntil('the refused connection to close', () => talk.isClosed);
        return undefined;
      });
      const over = await inForest();
      assert.equal(over.reply, forestRefusal);
      await waitUntil('the refused connection to close', () => over.talk.isClosed);
      await Promise.all([quit(again), quit(held[1]!.talk)]);
    });

    it('refuses a third IMAP session of one user with [LIMIT], and opens one after a LOGOUT', async () => {
      const first = await imap();
      const second = await imap();
      assert.match(first.reply, / OK \[CAPABILITY /);
      assert.match(second.reply, / OK \[CAPABILITY /);
      for (let i = 0; i < 3; i++) {
        const refused = await imap();
        assert.match(refused.reply, imapRefusal);
        await logout(refused.talk); // refused at LOGIN, the connection stays open for another try
      }
      await logout(first.talk);
      const again = await waitUntil('a session opened again', async () => {
        const { talk, reply } = await imap();
        if (/ OK \[CAPABILITY /.test(reply)) return talk;
        await logout(talk);
        return undefined;
      });
      assert.match((await imap()).reply, imapRefusal);
      await Promise.all([logout(again), logout(second.talk)]);
    });

    if (workers > 1)
      it('gives back the slots of a worker killed with SIGKILL', async () => {
        const smtpHeld = [await smtp(), await smtp(), await smtp()];
        const imapHeld = [await imap(), await imap()];
        for (const { greeting } of smtpHeld) assert.match(greeting, /^220 /);
        for (const { reply } of imapHeld) assert.match(reply, / OK /);
        const pids = childrenOf(server.child.pid!);
        const smtpHolders = smtpHeld.map(({ talk }) => holderOf(pids, server.port('smtp'), localPort(talk)));
        const imapHolders = imapHeld.map(({ talk }) => holderOf(pids, server.port('imaps'), localPort(talk)));
        const victim = imapHolders[0]!;
        const smtpFreed = smtpHolders.filter((pid) => pid === victim).length;
        const imapFreed = imapHolders.filter((pid) => pid === victim).length;
        assert.ok(
          smtpFreed >= 1 && imapFreed >= 1,
          `worker ${victim} holds SMTP ${smtpHolders} and IMAP ${imapHolders}`,
        );

        const releasedBefore = server.stderr().split('its connection slots are free again').length;
        process.kill(victim, 'SIGKILL');
        await waitUntil(
          'the primary to free the dead worker’s slots',
          () => server.stderr().split('its connection slots are free again').length > releasedBefore,
        );
        const released = server
          .stderr()
          .split('\n')
          .filter((l) => l.includes('its connection slots are free again'))
          .map((l) => JSON.parse(l) as { released: number })
          .at(-1);
        assert.equal(released?.released, smtpFreed + imapFreed);

        // As many new connections and sessions as the dead worker held, on the survivor or its replacement; no more.
        for (let i = 0; i < smtpFreed; i++) assert.match((await smtp()).greeting, /^220 /);
        await smtpRefusedTimes(2);
        for (let i = 0; i < imapFreed; i++) assert.match((await imap()).reply, / OK \[CAPABILITY /);
        assert.match((await imap()).reply, imapRefusal);

        // The replacement starts with nothing: after everything closes, the whole limit is free again.
        await waitUntil('a new worker', () => childrenOf(server.child.pid!).find((pid) => !pids.includes(pid)));
        for (const talk of open.splice(0)) talk.close();
        const fresh = await waitUntil('three connections taken again', async () => {
          const tries = [await smtp(), await smtp(), await smtp()];
          if (tries.every(({ greeting }) => /^220 /.test(greeting))) return tries;
          for (const { talk } of tries) talk.close();
          await new Promise((r) => setTimeout(r, 200));
          return undefined;
        });
        assert.equal(fresh.length, 3);
      });
  });
}
