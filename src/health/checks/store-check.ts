// Can this node write to the store and read back, and how fast? An incident when it cannot, an
// advisory when it is slower than [health] store_latency.
import { nodeRule, type CheckResult } from '../check-result.ts';
import { withinTime, type ProbeContext } from './probe-context.ts';

export async function checkStore(context: ProbeContext): Promise<CheckResult> {
  const rule = nodeRule('store', context.node);
  const limit = context.settings.storeLatencyMs;
  const started = performance.now();
  let failure: string | undefined;
  try {
    await withinTime(writeAndRead(context, rule), Math.max(limit * 5, 5000), 'a store write and read');
  } catch (error) {
    failure = (error as Error).message.split('\n')[0];
  }
  const latencyMs = Math.round(performance.now() - started);
  const slow = !failure && latencyMs > limit;
  return {
    rule,
    component: 'Store',
    state: failure || slow ? 'failing' : 'healthy',
    latencyMs,
    detail: failure
      ? `The store does not answer writes from ${context.node}: ${failure}.`
      : `A write and read took ${latencyMs} ms (limit ${limit} ms).`,
    issue: failure
      ? {
          classification: 'incident',
          origin: 'customer',
          title: `The store cannot be written from ${context.node}`,
          impact:
            'Mail cannot be accepted or delivered, and mailboxes and calendars cannot be changed, on the affected server.',
          feature: 'Store writes',
          publicSummary: 'Mail storage is unavailable on one server',
          scope: context.scope(),
        }
      : {
          classification: 'advisory',
          origin: 'customer',
          title: `The store is slow from ${context.node}`,
          impact: 'Accepting and delivering mail, and opening mailboxes, may be slower than usual.',
          feature: 'Store latency',
          publicSummary: 'Mail storage is slower than usual',
          scope: context.scope(),
        },
  };
}

async function writeAndRead(context: ProbeContext, rule: string) {
  const at = context.now();
  await context.db
    .insertInto('health_checks')
    .values({
      node: context.node,
      check_name: rule,
      component: 'Store',
      state: 'healthy',
      detail: 'heartbeat',
      latency_ms: null,
      checked_at: at,
    })
    .onConflict((oc) => oc.columns(['node', 'check_name']).doUpdateSet({ checked_at: at }))
    .execute();
  const row = await context.db
    .selectFrom('health_checks')
    .select('checked_at')
    .where('node', '=', context.node)
    .where('check_name', '=', rule)
    .executeTakeFirst();
  if (Number(row?.checked_at) !== at) throw new Error('the heartbeat written was not read back');
}
