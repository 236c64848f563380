// Per-destination concurrency and back-off: slots start few and grow slowly on success while all are
// in use, halve on push-back and failures to connect, a refused connection sets a ceiling that is
// tried again only after a wait that doubles, a destination unreachable several times in a row is
// dead for a while, and while dead a probe every few seconds finds it when it comes back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  defaultDestinationPolicy,
  DestinationControl,
  type DestinationPolicy,
} from '../../../src/flow/delivery/destination-control.ts';

const policy: DestinationPolicy = {
  ...defaultDestinationPolicy,
  initial: 2,
  max: 5,
  deadAfter: 3,
  deadForMs: 60_000,
  probeEveryMs: 5_000,
};

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

  it('grows by one slot per `limit` successes while every slot is in use, at most one a second, up to the maximum', () => {
    const { clock, control: c } = control();
    /** One success with every slot in use (the others stay busy). */
    const busySuccess = () => {
      fill(c, 'mx.a.example');
      c.release('mx.a.example', 'success');
    };
    assert.ok(c.tryAcquire('mx.a.example'));
    c.release('mx.a.example', 'success');
    assert.equal(c.state('mx.a.example').limit, 2, 'a slot left unused says nothing about one more');
    busySuccess();
    assert.equal(c.state('mx.a.example').limit, 2, 'one success of two');
    busySuccess();
    assert.equal(c.state('mx.a.example').limit, 3);
    for (let i = 0; i < 10; i++) busySuccess();
    assert.equal(c.state('mx.a.example').limit, 3, 'not again within a second');
    for (let i = 0; i < 20; i++) {
      clock.now += 1000;
      for (let j = 0; j < 5; j++) busySuccess();
    }
    assert.equal(c.state('mx.a.example').limit, 5);
  });

  it('halves on push-back and on failures to connect, never below one', () => {
    const { clock, control: c } = control();
    for (let i = 0; i < 12; i++) {
      clock.now += 1000;
      fill(c, 'mx.a.example');
      c.release('mx.a.example', 'success');
    }
    assert.equal(c.state('mx.a.example').limit, 5);
    while (c.state('mx.a.example').active) c.release('mx.a.example', 'neutral');
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

/** Grows the destination's limit to `limit` with busy successes a second apart, then leaves every slot taken. */
function growTo(c: DestinationControl, clock: { now: number }, limit: number, destination = 'mx.a.example') {
  while (c.state(destination).limit < limit) {
    clock.now += 1000;
    fill(c, destination);
    c.release(destination, 'success');
  }
  fill(c, destination);
}

const busy = '421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit';

describe('Refused connections', () => {
  it('halves, puts a ceiling at the refused concurrency, and asks for the mail again soon when others are open', () => {
    const { clock, control: c } = control({ ...policy, max: 20 });
    growTo(c, clock, 4);
    const released = c.release('mx.a.example', 'refused', busy);
    assert.deepEqual(released, { back: false, retrySoon: true, holdUntil: clock.now + policy.refusedHoldMs });
    const state = c.state('mx.a.example');
    assert.equal(state.limit, 2);
    assert.equal(state.ceiling, 4);
    assert.equal(state.consecutiveFailures, 0, 'throttling is not a failure');
    for (let i = 0; i < 10; i++) {
      state.active = 3; // three deliveries still under way, one more refused each time
      c.release('mx.a.example', 'refused', busy);
    }
    assert.equal(c.isDead('mx.a.example'), false, 'never dead while other connections are accepted');
    assert.equal(c.state('mx.a.example').refused, 11);
  });

  it('grows back to just below the ceiling, tries the ceiling once its wait is over, and doubles the wait at each refusal there', () => {
    const { clock, control: c } = control({ ...policy, max: 20 });
    growTo(c, clock, 4);
    c.release('mx.a.example', 'refused', busy);
    const refusedAt = clock.now;
    /** Busy successes a second apart until `until`; the highest limit seen. */
    const runUntil = (until: number) => {
      let highest = 0;
      while (clock.now < until) {
        clock.now += 1000;
        fill(c, 'mx.a.example');
        c.release('mx.a.example', 'success');
        highest = Math.max(highest, c.state('mx.a.example').limit);
      }
      return highest;
    };
    assert.equal(runUntil(refusedAt + policy.ceilingWaitMs - 1000), 3, 'up to one below the ceiling, not to it');
    assert.equal(runUntil(refusedAt + policy.ceilingWaitMs + 3000), 4, 'then the ceiling is tried');
    fill(c, 'mx.a.example');
    c.release('mx.a.example', 'refused', busy);
    const again = clock.now;
    assert.equal(c.state('mx.a.example').ceilingRetryAt, again + 2 * policy.ceilingWaitMs, 'the wait doubles');
    assert.equal(runUntil(again + 2 * policy.ceilingWaitMs - 1000), 3);
  });

  it('lifts the ceiling when the destination takes that many at once', () => {
    const { clock, control: c } = control({ ...policy, max: 20 });
    growTo(c, clock, 4);
    c.release('mx.a.example', 'refused', busy);
    clock.now += policy.ceilingWaitMs;
    growTo(c, clock, 4);
    clock.now += policy.raiseEveryMs;
    c.release('mx.a.example', 'success');
    assert.equal(c.state('mx.a.example').ceiling, null);
    growTo(c, clock, 6);
    assert.equal(c.state('mx.a.example').limit, 6);
  });

  it('holds a destination that refused with nothing else in flight, and counts it towards dead', () => {
    const { clock, control: c } = control();
    assert.ok(c.tryAcquire('mx.a.example'));
    const released = c.release('mx.a.example', 'refused', busy);
    assert.equal(released.retrySoon, false, 'deferred on the schedule: the destination may be down');
    assert.equal(c.heldUntil('mx.a.example'), clock.now + policy.refusedHoldMs);
    assert.equal(c.tryAcquire('mx.a.example'), false, 'no tight loop of refusals');
    clock.now += policy.refusedHoldMs;
    assert.equal(c.heldUntil('mx.a.example'), 0);
    assert.ok(c.tryAcquire('mx.a.example'));
    c.release('mx.a.example', 'refused', busy);
    clock.now += policy.refusedHoldMs;
    assert.ok(c.tryAcquire('mx.a.example'));
    c.release('mx.a.example', 'refused', busy);
    assert.equal(c.isDead('mx.a.example'), true, 'refused every time with nothing open: down, probed from now on');
  });

  it('tells the observer a refusal among open connections apart from one with nothing open', () => {
    const seen: string[] = [];
    const clock = { now: 1_000_000 };
    const c = new DestinationControl(
      () => clock.now,
      policy,
      (_d, result) => seen.push(result),
    );
    fill(c, 'mx.a.example');
    c.release('mx.a.example', 'refused', busy);
    c.release('mx.a.example', 'refused', busy);
    assert.deepEqual(seen, ['throttled', 'refused']);
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
    assert.equal(c.tryProbe('mx.a.example'), false, 'not right after the failure that made it dead');
    clock.now += policy.probeEveryMs;
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
    const { clock, control: c } = control();
    markDead(c);
    clock.now += policy.probeEveryMs;
    assert.ok(c.tryProbe('mx.a.example'));
    assert.equal(c.release('mx.a.example', 'success').back, true);
    assert.equal(c.isDead('mx.a.example'), false);
    assert.equal(c.state('mx.a.example').consecutiveFailures, 0);
    c.tryAcquire('mx.a.example');
    assert.equal(c.release('mx.a.example', 'success').back, false, 'an ordinary success brings nothing back');
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
