// Machine-wide delivery concurrency in one process: the primary's control (machine-destinations.ts)
// and two workers' controls (worker-destinations.ts) joined by a fake channel that delivers messages
// later, as IPC does. Each "worker" plays a queue runner with mail waiting for one destination: woken
// by its control, it starts a delivery per slot it gets. The real program under --workers 2 against a
// destination that allows 3 connections is test/server/worker-delivery.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeliverySignal, defaultDestinationPolicy } from '../../src/flow/delivery/destination-control.ts';
import {
  type DestinationAnswer,
  type DestinationRequest,
  MachineDestinations,
} from '../../src/flow/delivery/machine-destinations.ts';
import { type DestinationChannel, WorkerDestinations } from '../../src/flow/delivery/worker-destinations.ts';
import { LogCapture } from '../helpers/log-capture.ts';

const dest = 'relay:mx.partner.example:25';
/** Messages sent and not yet received, on every fake channel. */
let inTransit = 0;
const carry = (deliver: () => void) => {
  inTransit++;
  setImmediate(() => {
    inTransit--;
    deliver();
  });
};
/** Waits until every message sent has been received (and what it caused, too). */
const settle = async () => {
  do await new Promise((resolve) => setImmediate(resolve));
  while (inTransit > 0);
};

/** A worker as the queue runner uses its control: `waiting` deliveries wait for slots, `inFlight` hold one. */
interface Runner {
  control: WorkerDestinations;
  waiting: number;
  inFlight: number;
  log: LogCapture;
  /** Connections its SMTP client keeps open, idle, to the destination; and how many it closed. */
  idle: number;
  closed: number;
}

function machine(workerIds = [1, 2], options: { connections?: boolean; onReturn?: (workerId: number) => void } = {}) {
  const runners = new Map<number, Runner>();
  const alive = new Set(workerIds);
  const primary = new MachineDestinations(
    (workerId, message: DestinationAnswer) => carry(() => runners.get(workerId)?.control.receive(message)),
    () => [...alive],
  );
  const receive = (id: number, message: DestinationRequest) => {
    if (message.holdfast === 'dest-return') options.onReturn?.(id);
    primary.receive(id, message);
  };
  let peak = 0;
  const inFlight = () => [...runners.values()].reduce((n, r) => n + r.inFlight, 0);
  for (const id of workerIds) {
    const channel: DestinationChannel = {
      connected: () => alive.has(id),
      send: (message: DestinationRequest, done) => {
        done(null);
        carry(() => alive.has(id) && receive(id, message));
      },
    };
    const log = new LogCapture();
    const control = new WorkerDestinations(channel, log.logger, Date.now);
    const runner: Runner = { control, waiting: 0, inFlight: 0, log, idle: 0, closed: 0 };
    control.onWake(() => start(runner));
    if (options.connections)
      control.useConnections({
        idleFor: () => runner.idle,
        // Closing takes a moment (QUIT, the server's close), counted as a message in transit.
        closeIdle: (_destination, count) =>
          new Promise((resolve) => {
            inTransit++;
            setTimeout(() => {
              inTransit--;
              const closing = Math.min(count, runner.idle);
              runner.idle -= closing;
              runner.closed += closing;
              resolve();
            }, 5);
          }),
      });
    runners.set(id, runner);
  }
  /** What the runner's startWaiting does: a delivery per slot while mail waits; one probe if the destination is dead. */
  const start = (runner: Runner) => {
    const { control } = runner;
    while (runner.waiting > 0) {
      if (control.isDead(dest) ? control.state(dest).active > 0 || !control.tryProbe(dest) : !control.tryAcquire(dest))
        break;
      runner.waiting--;
      runner.inFlight++;
      if (runner.idle > 0) runner.idle--; // the delivery reuses an idle connection
      peak = Math.max(peak, inFlight());
    }
  };
  /** A delivery ends; `keepOpen`: its connection stays open, idle, as the SMTP client does after a success. */
  const finish = (runner: Runner, signal: DeliverySignal, reply: string | null = null, keepOpen = false) => {
    assert.ok(runner.inFlight > 0);
    runner.inFlight--;
    if (keepOpen) runner.idle++;
    const released = runner.control.release(dest, signal, reply);
    start(runner);
    return released;
  };
  return {
    primary,
    runner: (id: number) => runners.get(id)!,
    start,
    finish,
    inFlight,
    peak: () => peak,
    kill: (id: number) => {
      alive.delete(id);
      runners.delete(id);
      return primary.workerGone(id);
    },
  };
}

describe('machine-wide delivery concurrency', () => {
  it('grants the machine’s limit across both workers, in turn, and grows it from their successes', async () => {
    const m = machine();
    const [one, two] = [m.runner(1), m.runner(2)];
    one.waiting = 50;
    two.waiting = 50;
    m.start(one);
    m.start(two);
    assert.equal(m.inFlight(), 0, 'nothing starts before the primary grants it');
    await settle();
    assert.equal(m.inFlight(), defaultDestinationPolicy.initial, 'the initial limit, for the machine');
    assert.equal(m.primary.control.state(dest).active, defaultDestinationPolicy.initial);
    // Deliveries finish one at a time, alternately: each slot goes to the next waiting worker.
    for (let i = 0; i < 60; i++) {
      const busy = [one, two].filter((r) => r.inFlight > 0);
      if (!busy.length) break;
      m.finish(busy[i % busy.length]!, 'success', '250 2.0.0 ok');
      await settle();
      assert.ok(
        m.inFlight() <= m.primary.control.state(dest).limit,
        `${m.inFlight()} in flight, limit ${m.primary.control.state(dest).limit}`,
      );
    }
    assert.ok(one.waiting < 50 && two.waiting < 50, 'both workers delivered');
    assert.ok(m.primary.control.state(dest).limit > defaultDestinationPolicy.initial, 'the limit grew');
    assert.equal(m.primary.control.state(dest).active, m.inFlight(), 'the primary counts what is in flight');
  });

  it('halves and holds for every worker when one worker’s connection is refused', async () => {
    const m = machine();
    const [one, two] = [m.runner(1), m.runner(2)];
    one.waiting = 1;
    two.waiting = 5;
    m.start(one);
    await settle();
    m.start(two);
    await settle();
    assert.deepEqual([one.inFlight, two.inFlight], [1, 1]);
    // One refused while another is open: throttling, tried again soon, and the limit halves.
    const refusal = '421 4.3.2 too many connections';
    const released = m.finish(one, 'refused', refusal);
    assert.equal(released.retrySoon, true);
    assert.ok(released.holdUntil > Date.now());
    await settle();
    const machineState = m.primary.control.state(dest);
    assert.equal(machineState.limit, 1);
    assert.equal(machineState.refused, 1);
    assert.equal(two.inFlight, 1, 'the other worker gets no slot beyond the halved limit');
    assert.equal(two.control.state(dest).lastReply, refusal, 'the other worker knows what the destination said');
    // The last one finishes: nothing more starts on the machine while the refusal's hold lasts.
    m.finish(two, 'refused', refusal);
    await settle();
    assert.equal(m.inFlight(), 0);
    assert.ok(two.control.heldUntil(dest) > Date.now(), 'the hold is the machine’s');
  });

  it('marks a dead destination once for the machine and lets one probe through for both workers', async () => {
    const m = machine();
    const [one, two] = [m.runner(1), m.runner(2)];
    one.waiting = 3;
    m.start(one);
    await settle();
    for (let i = 0; i < defaultDestinationPolicy.deadAfter; i++) {
      const busy = one.inFlight ? one : undefined;
      if (busy) m.finish(busy, 'unreachable');
      await settle();
    }
    assert.equal(m.primary.control.isDead(dest), true);
    assert.equal(one.control.isDead(dest), true);
    assert.equal(two.control.isDead(dest), true, 'told to the worker that never tried it');
    assert.equal(m.inFlight(), 0);
    // No probe yet (the first comes a probe interval after the destination was marked dead).
    one.waiting = 5;
    two.waiting = 5;
    m.start(two);
    await settle();
    assert.equal(m.inFlight(), 0);
    // A probe is due: both workers look at once; the machine lets one through.
    const state = m.primary.control.state(dest);
    state.lastProbeAt -= defaultDestinationPolicy.probeEveryMs;
    for (const runner of [one, two]) runner.control.receive({ holdfast: 'dest-state', state: { ...state, active: 0 } });
    await settle();
    const probes = [one, two].filter((r) => r.inFlight > 0);
    assert.equal(probes.length, 1, 'one probe on the machine');
    assert.equal(m.inFlight(), 1);
    assert.equal(m.primary.control.state(dest).active, 1);
    const prober = probes[0]!;
    const other = prober === one ? two : one;
    assert.ok(other.control.state(dest).active > 0, 'the other worker sees the probe in flight and waits');
    const released = m.finish(prober, 'success', '250 ok');
    assert.equal(released.back, true, 'the probe brought the destination back');
    await settle();
    assert.equal(other.control.isDead(dest), false, 'back for every worker');
    assert.ok(other.inFlight > 0, 'and its waiting mail goes');
  });

  it('gives back the slots of a worker that dies, to the worker waiting', async () => {
    const m = machine();
    const [one, two] = [m.runner(1), m.runner(2)];
    one.waiting = 10;
    m.start(one);
    await settle();
    two.waiting = 10;
    m.start(two);
    await settle();
    assert.deepEqual([one.inFlight, two.inFlight], [2, 0]);
    assert.equal(m.kill(1), 2);
    await settle();
    assert.equal(two.inFlight, 2, 'the dead worker’s slots went to the other');
    assert.equal(m.primary.control.state(dest).active, 2);
  });

  it('keeps a slot with the connection a delivery left open, and gives it back only once that connection is closed', async () => {
    const idleAtReturn: number[] = [];
    const m = machine([1, 2], { connections: true, onReturn: (id) => idleAtReturn.push(m.runner(id).idle) });
    const [one, two] = [m.runner(1), m.runner(2)];
    one.waiting = 1;
    m.start(one);
    await settle();
    m.finish(one, 'success', '250 ok', true);
    await settle();
    assert.equal(m.primary.control.state(dest).active, 1, 'the open connection still counts on the machine');
    assert.equal(m.primary.heldBy(1, dest), 1);
    // The next message goes out on it without asking the primary.
    one.waiting = 1;
    m.start(one);
    assert.equal(one.inFlight, 1);
    m.finish(one, 'success', '250 ok', true);
    await settle();
    // The other worker wants more than the machine has room for: the idle slot is asked back, and
    // returned only after its connection was closed.
    two.waiting = 5;
    m.start(two);
    await settle();
    assert.equal(one.closed, 1);
    assert.deepEqual(idleAtReturn, [0], 'closed before it was given back');
    assert.equal(two.inFlight, 2, 'the machine’s 2 slots are the other worker’s now');
    assert.equal(m.primary.control.state(dest).active, 2);
    // Kept slots unused for a second go back by themselves, their connections closed.
    two.waiting = 0;
    for (let i = 0; i < 2; i++) m.finish(two, 'success', '250 ok', true);
    await settle();
    assert.equal(m.primary.heldBy(2, dest), 2);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await settle();
    assert.equal(two.closed, 2);
    assert.equal(m.primary.heldBy(2, dest), 0);
    assert.equal(m.primary.control.state(dest).active, 0);
  });

  it('uses the worker’s own control when the primary does not answer within the wait, and the machine’s again after', async () => {
    const sent: DestinationRequest[] = [];
    const log = new LogCapture();
    const control = new WorkerDestinations(
      {
        connected: () => true,
        send: (message, done) => {
          sent.push(message);
          done(null);
        },
      },
      log.logger,
      Date.now,
      defaultDestinationPolicy,
      undefined,
      30,
    );
    const woken: string[] = [];
    control.onWake((d) => woken.push(d));
    assert.equal(control.tryAcquire(dest), false);
    assert.deepEqual(sent, [{ holdfast: 'dest-want', id: 1, destination: dest, probe: false }]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(control.machineWide, false);
    assert.deepEqual(woken, [dest], 'the runner looks again');
    assert.equal(log.records().filter((r) => /the primary did not answer/.test(r.msg)).length, 1);
    // Its own control: the initial limit of one process.
    assert.equal(control.tryAcquire(dest), true);
    assert.equal(control.tryAcquire(dest), true);
    assert.equal(control.tryAcquire(dest), false);
    assert.equal(control.local.state(dest).active, 2);
    assert.equal(sent.length, 1, 'the primary is asked again at most once a second');
    // The late answer: machine-wide again; its grant, not taken by the runner, goes back.
    const state = { ...control.local.state(dest), active: 1 };
    control.receive({ holdfast: 'dest-answer', id: 1, granted: true, queued: false, state });
    assert.equal(control.machineWide, true);
    assert.deepEqual(sent.at(-1), { holdfast: 'dest-return', destination: dest, slots: 1 });
    assert.equal(log.records().filter((r) => /answers again/.test(r.msg)).length, 1);
    // The slots taken from its own control go back to it, without a word to the primary.
    control.release(dest, 'success');
    control.release(dest, 'success');
    assert.equal(control.local.state(dest).active, 0);
    assert.equal(sent.length, 2);
  });
});
