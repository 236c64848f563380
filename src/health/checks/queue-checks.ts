// The queue, read from the store (the same on every node): mail waiting longer than
// [health] queue_age; each remote destination holding at least [health] destination_deferred
// recipients deferred; each destination that refused (5xx) at least [health] destination_failures
// recipients in the last hour, more than it accepted — with the tenants and resource forests whose
// mail is affected.
import { sql } from 'kysely';
import { queueInsight } from '../../flow/queue/queue-insight.ts';
import type { RecipientState } from '../../store/schema.ts';
import type { CheckResult, IssueScope } from '../check-result.ts';
import type { ProbeContext } from './probe-context.ts';

export const destinationRule = (domain: string) => `destination:${domain}`;
export const refusalRule = (domain: string) => `refusals:${domain}`;
export const queueAgeRule = 'queue:age';
const refusalWindowMs = 3_600_000;

export async function checkQueue(context: ProbeContext): Promise<CheckResult[]> {
  const now = context.now();
  const { queueAgeMs, destinationDeferred, destinationFailures, region } = context.settings;
  const results: CheckResult[] = [];

  const old = await context.db
    .selectFrom('queue_recipients')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min<number>('created_at').as('oldest')])
    .where('state', 'in', ['queued', 'inflight', 'deferred'])
    .where('created_at', '<', now - queueAgeMs)
    .executeTakeFirst();
  const late = Number(old?.n ?? 0);
  const minutes = Math.round(queueAgeMs / 60_000);
  results.push({
    rule: queueAgeRule,
    component: 'Queue',
    state: late ? 'failing' : 'healthy',
    detail: late ? `${late} recipients have waited more than ${minutes} min; the oldest since ${new Date(Number(old!.oldest)).toISOString()}.` : `No mail has waited more than ${minutes} min.`,
    issue: late
      ? {
          classification: 'advisory',
          origin: 'customer',
          title: `Mail is waiting in the queue for more than ${minutes} minutes`,
          impact: 'Some messages are delivered late.',
          feature: 'Queue age',
          publicSummary: 'Some mail is delivered late',
          scope: await scopeOf(context, (q) => q.where('r.created_at', '<', now - queueAgeMs), region),
        }
      : undefined,
  });

  for (const insight of await queueInsight(context.db, now)) {
    // Deferred recipients being retried at this moment are in flight: still held up.
    const held = insight.deferred + (insight.attempts > 0 ? insight.inFlight : 0);
    if (held < destinationDeferred || insight.lastReply === null) continue;
    const delivered = await context.db
      .selectFrom('queue_recipients')
      .select((eb) => eb.fn.max<number>('updated_at').as('at'))
      .where('route', '=', 'remote')
      .where('domain', '=', insight.destination)
      .where('state', '=', 'delivered')
      .executeTakeFirst();
    // Delivered after the last failed attempt: the destination takes mail again; the rest waits for its retry.
    const recovering = delivered?.at != null && insight.lastAttemptAt !== null && Number(delivered.at) > insight.lastAttemptAt;
    results.push({
      rule: destinationRule(insight.destination),
      component: 'RemoteDelivery',
      state: recovering ? 'recovering' : 'failing',
      detail: `${held} recipients deferred at ${insight.destination} (${insight.waiting} waiting since ${new Date(insight.oldestSince).toISOString()}); last reply: ${insight.lastReply ?? 'none'}. ${insight.explanation}.`,
      issue: {
        classification: 'advisory',
        origin: 'thirdParty',
        title: `Mail to ${insight.destination} is delayed`,
        impact: `Messages to ${insight.destination} are waiting in the queue; Holdfast retries them on schedule and nothing is lost.`,
        feature: `Delivery to ${insight.destination}`,
        publicSummary: 'Delivery to one outside destination is delayed',
        scope: await scopeOf(context, (q) => q.where('r.domain', '=', insight.destination).where('r.route', '=', 'remote'), region),
      },
    });
  }
  const outcomes = await context.db
    .selectFrom('queue_recipients')
    .select(['domain', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('route', '=', 'remote')
    .where('state', 'in', ['failed', 'delivered'])
    .where('updated_at', '>=', now - refusalWindowMs)
    .groupBy(['domain', 'state'])
    .execute();
  for (const domain of new Set(outcomes.map((o) => o.domain))) {
    const count = (state: string) => Number(outcomes.find((o) => o.domain === domain && o.state === state)?.n ?? 0);
    const failed = count('failed');
    if (failed < destinationFailures || failed <= count('delivered')) continue;
    const last = await context.db.selectFrom('queue_recipients').select('last_reply').where('domain', '=', domain).where('state', '=', 'failed').orderBy('updated_at', 'desc').limit(1).executeTakeFirst();
    results.push({
      rule: refusalRule(domain),
      component: 'RemoteDelivery',
      state: 'failing',
      detail: `${failed} of ${failed + count('delivered')} recipients at ${domain} were refused in the last hour; last reply: ${last?.last_reply ?? 'none'}.`,
      issue: {
        classification: 'advisory',
        origin: 'thirdParty',
        title: `Mail to ${domain} is being refused`,
        impact: `Messages to ${domain} are returned to their senders as undeliverable.`,
        feature: `Delivery to ${domain}`,
        publicSummary: 'One outside destination refuses mail',
        scope: await scopeOf(context, (q) => q.where('r.domain', '=', domain).where('r.route', '=', 'remote').where('r.updated_at', '>=', now - refusalWindowMs), region, ['failed']),
      },
    });
  }
  return results;
}

type WaitingQuery = ReturnType<typeof recipientsIn>;

function recipientsIn(context: ProbeContext, states: RecipientState[]) {
  return context.db
    .selectFrom('queue_recipients as r')
    .innerJoin('tenants as t', 't.id', 'r.tenant_id')
    .innerJoin('forests as f', 'f.id', 't.forest_id')
    .where('r.state', 'in', states);
}

/** The tenants and forests whose mail matches: the sending tenants of the recipients (waiting ones by default). */
async function scopeOf(context: ProbeContext, narrow: (q: WaitingQuery) => WaitingQuery, region: string, states: RecipientState[] = ['queued', 'inflight', 'deferred']): Promise<IssueScope> {
  const rows = await narrow(recipientsIn(context, states)).select(['t.name as tenant', 'f.name as forest']).groupBy(['t.name', 'f.name']).orderBy(sql`1`).execute();
  return { tenants: [...new Set(rows.map((r) => r.tenant))], forests: [...new Set(rows.map((r) => r.forest))], regions: [region], nodes: [] };
}
