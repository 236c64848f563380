// Remote delivery concurrency holds for the whole machine under `holdfast start --workers 2` (the real
// program, real sockets): a destination behind a gate that lets 3 connections through at a time
// (drill/lib/upstream-gate.ts, as test/flow/connection-limit.test.ts) and answers one more
// `421 4.3.2 …`. Mail is submitted over four connections, which the primary hands to both workers,
// so both queue runners deliver to it. The primary keeps the destination's one control. First the
// gate refuses everything (an outage) while the mail arrives: the destination is tried deadAfter
// times and then probed once per probe interval by the machine, not by each worker. Then it
// recovers: the machine never has more than 3 connections open to it, every message arrives once,
// and refusals stay a small fraction of the connections (the limit is learnt for the machine).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpstreamGate } from '../../drill/lib/upstream-gate.ts';
import { createBackend, type TestBackend } from '../helpers/backends.ts';
import type { StartedServer } from '../helpers/cli.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { sendDuringOutage } from '../helpers/outage-mail.ts';
import { childrenOf, waitUntil } from '../helpers/worker-processes.ts';
import { alicePassword, startWithAlice } from './started-server.ts';

const messages = 240;
const allowed = 3;

describe('holdfast start --workers 2: delivery concurrency per machine', () => {
  let backend: TestBackend;
  let server: StartedServer;
  let mx: FakeMx;
  let gate: UpstreamGate;

  before(async () => {
    mx = await new FakeMx().start();
    gate = new UpstreamGate(mx.port, allowed);
    const gatePort = await gate.start();
    backend = await createBackend('sqlite');
    server = await startWithAlice(
      backend,
      [
        '[limits]',
        'messages_per_minute = 100000',
        '[queue]',
        'retry = ["2s"]',
        'poll_interval = "100ms"',
        '[[relay]]',
        'domains = ["partner.example"]',
        `url = "smtp://127.0.0.1:${gatePort}"`,
        '',
      ].join('\n'),
      ['--workers', '2'],
    );
  });
  after(async () => {
    if (server?.child.exitCode === null) await server.stop('SIGKILL');
    for (const pid of server ? childrenOf(server.child.pid!) : []) process.kill(pid, 'SIGKILL');
    await gate?.stop();
    await mx?.stop();
    await backend?.cleanup();
  });

  it('never opens more connections than the destination allows, from both workers together, and delivers each message once', async () => {
    // First the destination is down while the mail arrives: the machine tries it deadAfter times, then
    // probes it once per probe interval, whichever worker has mail for it (not once per worker).
    const outage = await sendDuringOutage({
      gate,
      submissionsPort: server.port('submissions'),
      user: 'alice@test.example',
      password: alicePassword,
      messages,
      subject: 'machine',
    });
    console.log(`# ${outage.text}`);
    assert.ok(outage.refused <= outage.bound, `${outage.text}: tried by the machine, not by each worker`);
    assert.equal(mx.received.length, 0);

    gate.recover();
    gate.resetCounts();
    const start = Date.now();
    await waitUntil(`${messages} messages at the server`, () => mx.received.length >= messages, 90_000);
    const seconds = (Date.now() - start) / 1000;
    // A moment for a second copy, should one be on its way.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const subjects = mx.received.map((m) => /^Subject: (.*)$/m.exec(m.data)?.[1]);
    assert.equal(new Set(subjects).size, messages, 'each message arrived');
    assert.equal(mx.received.length, messages, 'none twice');
    const figures = `${gate.refusedBusy} refused, ${gate.passed} let through, at most ${gate.peak} open, ${seconds.toFixed(1)} s`;
    console.log(`# --workers 2 against a limit of ${allowed} connections: ${figures}`);
    assert.ok(gate.peak <= allowed, `never more than ${allowed} open: ${figures}`);
    // Connections are kept open between messages: a handful in all, each refusal one of them.
    assert.ok(gate.refusedBusy <= 3, `refusals stay rare: ${figures}`);
    assert.ok(gate.refusedBusy < 0.02 * messages, `refusals, a small fraction of the messages: ${figures}`);
    // Both workers delivered (each line of a worker's log carries its number).
    const delivering = new Set(
      server
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"mail delivered"'))
        .map((l) => (JSON.parse(l) as { worker?: number }).worker),
    );
    assert.deepEqual([...delivering].sort(), [1, 2], 'both workers delivered to the destination');
  });
});
