// Per-destination concurrency and back-off: slots start few and grow on success, halve on push-back
// (421, connection limits) and failures to connect, a destination unreachable several times in a row
// is dead for a while, and while dead a probe every few seconds finds it when it comes back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  defaultDestinationPolicy,
  DestinationControl,
  type DestinationPolicy,
} from '../../../src/flow/delivery/destination-control.ts';

const policy: DestinationPolicy = { initial: 2, max: 5, deadAfter: 3, deadForMs: 60_000, probeEveryMs: 5_000 };

/** A control on a clock the test moves. */
function control(p: DestinationPolicy = policy) {
  const clock = { now: 1_000_000 };
  return { clock, control: new DestinationControl(() => clock.now, p) };
}

/** Takes as many slots as the destination gives, and returns how many. */
function fill(c: DestinationControl, destination: string): number {
  let taken = 0;
  while (c.tryAcquire(destination)) taken++;
  return taken;
}

/** Fails to connect as many times in a row as make the destination dead. */
function markDead(c: DestinationControl, destination = 'mx.a.example'): void {
  for (let i = 0; i < policy.deadAfter; i++) c.release(destination, 'unreachable');
}

describe('Destination concurrency', () => {
  it('gives a new destination the initial number of slots, each destination its own', () => {
    const { control: c } = control();
    assert.equal(fill(c, 'mx.a.example'), 2);
    assert.equal(fill(c, 'mx.b.example'), 2);
    c.release('mx.a.example', 'neutral');
    assert.equal(fill(c, 'mx.a.example'), 1, 'a released slot can be taken again');
  });

  it('grows by one per success, up to the maximum', () => {
    const { control: c } = control();
    for (let i = 0; i < 10; i++) {
      assert.ok(c.tryAcquire('mx.a.example'));
      c.release('mx.a.example', 'success');
    }
    assert.equal(c.state('mx.a.example').limit, 5);
    assert.equal(fill(c, 'mx.a.example'), 5);
  });

  it('halves on push-back and on failures to connect, never below one', () => {
    const { control: c } = control();
    for (let i = 0; i < 3; i++) c.release('mx.a.example', 'success');
    assert.equal(c.state('mx.a.example').limit, 5);
    c.release('mx.a.example', 'pushback', '421 4.7.0 Too many connections');
    assert.equal(c.state('mx.a.example').limit, 2);
    c.release('mx.a.example', 'pushback');
    c.release('mx.a.example', 'pushback');
    assert.equal(c.state('mx.a.example').limit, 1);
    assert.equal(fill(c, 'mx.a.example'), 1);
  });

  it('leaves the limit alone for neutral outcomes (a recipient refused, a message rejected)', () => {
    const { control: c } = control();
    c.tryAcquire('mx.a.example');
    c.release('mx.a.example', 'neutral', '550 5.1.1 no such user');
    assert.equal(c.state('mx.a.example').limit, 2);
    assert.equal(c.state('mx.a.example').consecutiveFailures, 0);
  });

  it('keeps the last reply and never counts active slots below zero', () => {
    const { control: c } = control();
    c.release('mx.a.example', 'pushback', '421 4.3.2 Shutting down');
    c.release('mx.a.example', 'neutral');
    assert.equal(
      c.state('mx.a.example').lastReply,
      '421 4.3.2 Shutting down',
      'a release without a reply keeps the last one',
    );
    assert.equal(c.state('mx.a.example').active, 0);
  });
});

describe('Dead destinations', () => {
  it('marks a destination dead after the set number of failures to connect in a row, for the set time', () => {
    const { clock, control: c } = control();
    c.release('mx.a.example', 'unreachable');
    c.release('mx.a.example', 'unreachable');
    assert.equal(c.isDead('mx.a.example'), false);
    c.release('mx.a.example', 'unreachable', 'connect ECONNREFUSED');
    assert.equal(c.isDead('mx.a.example'), true);
    assert.equal(c.isDead('mx.b.example'), false);
    clock.now += 59_999;
    assert.equal(c.isDead('mx.a.example'), true);
    clock.now += 1;
    assert.equal(c.isDead('mx.a.example'), false);
  });

  it('needs the failures in a row: a success in between starts the count again', () => {
    const { control: c } = control();
    c.release('mx.a.example', 'unreachable');
    c.release('mx.a.example', 'unreachable');
    c.release('mx.a.example', 'success');
    c.release('mx.a.example', 'unreachable');
    c.release('mx.a.example', 'unreachable');
    assert.equal(c.isDead('mx.a.example'), false);
  });

  it('never marks a destination dead for push-back alone, though it slows down', () => {
    const { control: c } = control();
    for (let i = 0; i < 10; i++) c.release('mx.a.example', 'pushback');
    assert.equal(c.isDead('mx.a.example'), false);
    assert.equal(c.state('mx.a.example').limit, 1);
  });

  it('lets one probe through at a time, every few seconds, while dead', () => {
    const { clock, control: c } = control();
    markDead(c);
    assert.equal(c.tryProbe('mx.a.example'), true);
    assert.equal(c.tryProbe('mx.a.example'), false, 'one at a time');
    c.release('mx.a.example', 'unreachable');
    assert.equal(c.tryProbe('mx.a.example'), false, 'not again before the interval');
    clock.now += 4_999;
    assert.equal(c.tryProbe('mx.a.example'), false);
    clock.now += 1;
    assert.equal(c.tryProbe('mx.a.example'), true);
  });

  it('brings the destination back on a successful probe, and says so once', () => {
    const { control: c } = control();
    markDead(c);
    assert.ok(c.tryProbe('mx.a.example'));
    assert.equal(c.release('mx.a.example', 'success'), true);
    assert.equal(c.isDead('mx.a.example'), false);
    assert.equal(c.state('mx.a.example').consecutiveFailures, 0);
    c.tryAcquire('mx.a.example');
    assert.equal(c.release('mx.a.example', 'success'), false, 'an ordinary success brings nothing back');
  });

  it('keeps a failed probe dead for another full period', () => {
    const { clock, control: c } = control();
    markDead(c);
    clock.now += 50_000;
    assert.ok(c.tryProbe('mx.a.example'));
    c.release('mx.a.example', 'unreachable');
    clock.now += 50_000;
    assert.equal(c.isDead('mx.a.example'), true);
  });
});

describe('Destination snapshots and defaults', () => {
  it('lists every destination seen, as copies the caller cannot change', () => {
    const { control: c } = control();
    c.tryAcquire('mx.a.example');
    c.release('mx.b.example', 'pushback', '421 busy');
    const snapshot = c.snapshot();
    assert.deepEqual(snapshot.map((s) => [s.destination, s.active, s.limit, s.lastReply]).sort(), [
      ['mx.a.example', 1, 2, null],
      ['mx.b.example', 0, 1, '421 busy'],
    ]);
    snapshot[0]!.limit = 99;
    assert.notEqual(c.state(snapshot[0]!.destination).limit, 99);
  });

  it('starts with a few slots and a short dead time by default', () => {
    const c = new DestinationControl(() => 0);
    assert.equal(fill(c, 'mx.a.example'), defaultDestinationPolicy.initial);
    assert.ok(defaultDestinationPolicy.initial <= defaultDestinationPolicy.max);
    assert.ok(defaultDestinationPolicy.probeEveryMs < defaultDestinationPolicy.deadForMs);
  });
});
