// A destination that limits connections, as Exchange Online throttles a gateway: a scripted SMTP server
// on loopback behind a gate (drill/lib/upstream-gate.ts) that lets 3 connections through at a time and
// answers one more `421 4.3.2 … concurrent connections per resource forest …`. First the gate refuses
// every connection (an outage) while the mail arrives, then it recovers and the backlog goes out.
//
// The bounds: during the outage the destination is tried deadAfter (3) times, a refusal's hold (2 s)
// apart, then probed once per probe interval (5 s) — not once per message. During the replay the
// limit grows one slot at a time, at most one a second; the first connection too many (the 4th) is
// refused once, the limit halves and then stays below 4 for ceilingWaitMs (30 s, longer than the
// replay), so a handful of refusals at most (we allow 2) against a dozen connections let through (the
// 3 kept open, and one more per 100 messages as they are recycled): well under 20 %. It runs on
// SQLite only: the store plays no part in the concurrency, and the replay takes half a minute.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpstreamGate } from '../../drill/lib/upstream-gate.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { sendDuringOutage } from '../helpers/outage-mail.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const messages = 600;
const allowed = 3;

describe('a destination that limits connections', () => {
  let t: TestNode;
  let mx: FakeMx;
  let gate: UpstreamGate;
  let gatePort = 0;

  before(async () => {
    mx = await new FakeMx().start();
    gate = new UpstreamGate(mx.port, allowed);
    gatePort = await gate.start();
    t = await startTestNode('sqlite', {
      toml: [
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
    });
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
  });
  after(async () => {
    await t.stop();
    await gate.stop();
    await mx.stop();
  });

  it('backs off during an outage, then replays each message once with few connections refused', async () => {
    const outage = await sendDuringOutage({
      gate,
      submissionsPort: t.port('submissions'),
      user: 'alice@test.example',
      password,
      messages,
      subject: 'limited',
    });
    assert.ok(outage.refused <= outage.bound, `${outage.text}, not one per message`);
    assert.equal(mx.received.length, 0);

    gate.recover();
    gate.resetCounts();
    const replayStart = Date.now();
    await t.waitFor(async () => mx.received.length >= messages, `${messages} messages at the server`, 60_000);
    const replaySeconds = (Date.now() - replayStart) / 1000;
    await t.waitFor(
      async () =>
        Number(
          (
            await t.node.holdfast.store.db
              .selectFrom('queue_recipients')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('state', '=', 'delivered')
              .executeTakeFirst()
          )?.n,
        ) === messages,
      'every recipient recorded delivered',
    );

    const subjects = mx.received.map((m) => /^Subject: (.*)$/m.exec(m.data)?.[1]);
    assert.equal(new Set(subjects).size, messages, 'each message arrived');
    assert.equal(mx.received.length, messages, 'none twice');
    const connections = gate.passed + gate.refusedBusy;
    const figures = `${gate.refusedBusy} refused, ${gate.passed} let through, at most ${gate.peak} open, ${replaySeconds.toFixed(1)} s`;
    assert.ok(gate.peak <= allowed, figures);
    assert.ok(gate.refusedBusy <= 2, `refusals stay rare: ${figures}`);
    assert.ok(gate.refusedBusy < 0.2 * connections, `under 20 % of the connections: ${figures}`);
    const state = t.node.holdfast.destinations.state(`relay:127.0.0.1:${gatePort}`);
    assert.ok(state.limit <= allowed, `the limit stays at what the destination allows (${state.limit})`);
    console.log(`# replay against a limit of ${allowed} connections: ${figures}`);
  });
});
