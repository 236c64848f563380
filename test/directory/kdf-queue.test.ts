// The fair queue of password hashing (directory/kdf-queue.ts): at most `concurrency` at once, the
// rest first come first served, and past `maxWaiting` an immediate temporary failure naming the limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HoldfastError } from '../../src/errors.ts';
import { KdfQueue, temporarySignInFailure } from '../../src/directory/kdf-queue.ts';

/** Work that ends when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('KDF queue', () => {
  it('runs at most `concurrency` at once and starts the others in the order they came', async () => {
    const queue = new KdfQueue({ concurrency: 2, maxWaiting: 10 });
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      queue.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await settle();
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual({ running: queue.stats().running, waiting: queue.stats().waiting }, { running: 2, waiting: 3 });
    gates[1]!.open();
    await runs[1];
    await settle();
    assert.deepEqual(started, [0, 1, 2]);
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    const stats = queue.stats();
    assert.deepEqual(
      { ...stats, waitMsTotal: 0 },
      { running: 0, waiting: 0, completed: 5, rejected: 0, waitMsTotal: 0 },
    );
    assert.ok(stats.waitMsTotal > 0, 'the waiting turns counted their wait');
  });

  it('refuses at once when the queue is full, with a temporary failure naming the limit', async () => {
    const queue = new KdfQueue({ concurrency: 1, maxWaiting: 2 });
    const g = gate();
    const held = [queue.run(() => g.opened), queue.run(() => g.opened), queue.run(() => g.opened)];
    await settle();
    const refused = await queue.run(async () => 'ran').catch((error: unknown) => error);
    assert.ok(refused instanceof HoldfastError);
    assert.equal(refused.kind, 'unavailable');
    assert.equal(refused.code, 'kdf-queue-full');
    assert.equal(
      refused.message,
      'Too many sign-ins are waiting for a password check (limit [auth] kdf_queue = 2); try again in a few seconds',
    );
    assert.equal(temporarySignInFailure(refused), refused);
    assert.equal(temporarySignInFailure(new Error('other')), undefined);
    assert.equal(queue.stats().rejected, 1);
    g.open();
    await Promise.all(held);
    assert.equal(await queue.run(async () => 'ran'), 'ran', 'room again once the queue drained');
  });

  it('frees the turn of work that failed', async () => {
    const queue = new KdfQueue({ concurrency: 1, maxWaiting: 1 });
    await assert.rejects(
      queue.run(async () => {
        throw new Error('scrypt failed');
      }),
      /scrypt failed/,
    );
    assert.equal(await queue.run(async () => 'next'), 'next');
    assert.equal(queue.stats().running, 0);
  });

  it('takes new limits, starting waiting work when more may run', async () => {
    const queue = new KdfQueue({ concurrency: 1, maxWaiting: 5 });
    const g = gate();
    const started: number[] = [];
    const runs = [0, 1, 2].map((i) =>
      queue.run(async () => {
        started.push(i);
        await g.opened;
      }),
    );
    await settle();
    assert.deepEqual(started, [0]);
    queue.configure({ concurrency: 3, maxWaiting: undefined });
    await settle();
    assert.deepEqual(started, [0, 1, 2]);
    assert.deepEqual(queue.settings, { concurrency: 3, maxWaiting: 5 });
    g.open();
    await Promise.all(runs);
  });
});
