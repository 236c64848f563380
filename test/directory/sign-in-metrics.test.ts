// The sign-in path in Prometheus's words (metrics/metrics.ts watchSignIns): cache hits and misses,
// the cache's size, and the KDF queue's work, refusals and waiting, as a scrape reads them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Directory } from '../../src/directory/directory.ts';
import { kdfQueue } from '../../src/directory/kdf-queue.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const password = 'Metered-Gate-31';

/** The value of one series in a scrape. */
function series(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is in the scrape`);
  return Number(line.slice(name.length + 1));
}

describe('sign-in metrics', () => {
  let t: TestStore;
  let directory: Directory;
  const metrics = new Metrics();

  before(async () => {
    t = await createTestStore('sqlite');
    directory = new Directory(t.store.db);
    await directory.addForest({ name: 'default' });
    await directory.addTenant({ name: 'contoso' });
    const tenant = await directory.tenant('contoso');
    await tenant.addDomain('contoso.example');
    await tenant.addPrincipal({ kind: 'user', address: 'ivy@contoso.example', password });
    metrics.watchSignIns(() => directory.signInStats());
  });
  after(() => t.close());

  it('counts cache hits and misses, cached sign-ins and KDF work', async () => {
    await directory.authenticate('ivy@contoso.example', password);
    await directory.authenticate('ivy@contoso.example', password);
    await directory.authenticate('ivy@contoso.example', 'Wrong-Guess-1');
    const text = await metrics.registry.metrics();
    assert.equal(series(text, 'holdfast_auth_cache_lookups_total{result="hit"}'), 1);
    assert.equal(series(text, 'holdfast_auth_cache_lookups_total{result="miss"}'), 2);
    assert.equal(series(text, 'holdfast_auth_cache_entries'), 1);
    const kdf = kdfQueue.stats();
    assert.equal(series(text, 'holdfast_kdf_computations_total'), kdf.completed);
    assert.equal(series(text, 'holdfast_kdf_rejected_total'), kdf.rejected);
    assert.equal(series(text, 'holdfast_kdf_queue{state="waiting"}'), 0);
    assert.equal(series(text, 'holdfast_kdf_queue{state="running"}'), 0);
    assert.ok(series(text, 'holdfast_kdf_wait_seconds_total') >= 0);

    // Counters stay counters: a later scrape shows the new totals, not increments on the old.
    await directory.authenticate('ivy@contoso.example', password);
    assert.equal(series(await metrics.registry.metrics(), 'holdfast_auth_cache_lookups_total{result="hit"}'), 2);
  });
});
