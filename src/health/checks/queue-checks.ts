// The queue, read from the store (the same on every node): mail waiting longer than
// [health] queue_age, and each remote destination holding at least [health] destination_deferred
// recipients deferred — with the tenants and resource forests whose mail waits.
import { sql } from 'kysely';
import { queueInsight } from '../../flow/queue/queue-insight.ts';
import type { CheckResult, IssueScope } from '../check-result.ts';
import type { ProbeContext } from './probe-context.ts';

export const destinationRule = (domain: string) => `destination:${domain}`;
export const queueAgeRule = 'queue:age';

export async function checkQueue(context: ProbeContext): Promise<CheckResult[]> {
  const now = context.now();
  const { queueAgeMs, destinationDeferred, region } = context.settings;
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
    if (insight.deferred < destinationDeferred) continue;
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
      detail: `${insight.deferred} recipients deferred at ${insight.destination} (${insight.waiting} waiting since ${new Date(insight.oldestSince).toISOString()}); last reply: ${insight.lastReply ?? 'none'}. ${insight.explanation}.`,
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
  return results;
}

type WaitingQuery = ReturnType<typeof waitingRecipients>;

function waitingRecipients(context: ProbeContext) {
  return context.db
    .selectFrom('queue_recipients as r')
    .innerJoin('tenants as t', 't.id', 'r.tenant_id')
    .innerJoin('forests as f', 'f.id', 't.forest_id')
    .where('r.state', 'in', ['queued', 'inflight', 'deferred']);
}

/** The tenants and forests whose mail matches: the sending tenants of the waiting recipients. */
async function scopeOf(context: ProbeContext, narrow: (q: WaitingQuery) => WaitingQuery, region: string): Promise<IssueScope> {
  const rows = await narrow(waitingRecipients(context)).select(['t.name as tenant', 'f.name as forest']).groupBy(['t.name', 'f.name']).orderBy(sql`1`).execute();
  return { tenants: [...new Set(rows.map((r) => r.tenant))], forests: [...new Set(rows.map((r) => r.forest))], regions: [region], nodes: [] };
}
