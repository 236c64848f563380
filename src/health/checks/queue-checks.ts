// The queue, read from the store (the same on every node): mail waiting longer than
// [health] queue_age; each remote destination holding at least [health] destination_deferred
// recipients deferred; each destination that refused (5xx) at least [health] destination_failures
// recipients in the last hour, more than it accepted — with the tenants and resource forests whose
// mail is affected.
import {
  lastDeliveredAt,
  lastRefusal,
  lateRecipients,
  remoteOutcomesSince,
  tenantsAndForestsOf,
  type RecipientSelection,
} from '../../flow/queue/queue-health.ts';
import { queueInsight } from '../../flow/queue/queue-insight.ts';
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

  const { count: late, oldestAt } = await lateRecipients(context.db, now - queueAgeMs);
  const minutes = Math.round(queueAgeMs / 60_000);
  results.push({
    rule: queueAgeRule,
    component: 'Queue',
    state: late ? 'failing' : 'healthy',
    detail: late
      ? `${late} recipients have waited more than ${minutes} min; the oldest since ${new Date(oldestAt!).toISOString()}.`
      : `No mail has waited more than ${minutes} min.`,
    issue: late
      ? {
          classification: 'advisory',
          origin: 'customer',
          title: `Mail is waiting in the queue for more than ${minutes} minutes`,
          impact: 'Some messages are delivered late.',
          feature: 'Queue age',
          publicSummary: 'Some mail is delivered late',
          scope: await scopeOf(context, { queuedBefore: now - queueAgeMs }, region),
        }
      : undefined,
  });

  for (const insight of await queueInsight(context.db, now)) {
    // Deferred recipients being retried at this moment are in flight: still held up.
    const held = insight.deferred + (insight.attempts > 0 ? insight.inFlight : 0);
    if (held < destinationDeferred || insight.lastReply === null) continue;
    const deliveredAt = await lastDeliveredAt(context.db, insight.destination);
    // Delivered after the last failed attempt: the destination takes mail again; the rest waits for its retry.
    const recovering = deliveredAt !== null && insight.lastAttemptAt !== null && deliveredAt > insight.lastAttemptAt;
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
        scope: await scopeOf(context, { remoteDomain: insight.destination }, region),
      },
    });
  }
  for (const [domain, { delivered, failed }] of await remoteOutcomesSince(context.db, now - refusalWindowMs)) {
    if (failed < destinationFailures || failed <= delivered) continue;
    const last = await lastRefusal(context.db, domain);
    results.push({
      rule: refusalRule(domain),
      component: 'RemoteDelivery',
      state: 'failing',
      detail: `${failed} of ${failed + delivered} recipients at ${domain} were refused in the last hour; last reply: ${last ?? 'none'}.`,
      issue: {
        classification: 'advisory',
        origin: 'thirdParty',
        title: `Mail to ${domain} is being refused`,
        impact: `Messages to ${domain} are returned to their senders as undeliverable.`,
        feature: `Delivery to ${domain}`,
        publicSummary: 'One outside destination refuses mail',
        scope: await scopeOf(
          context,
          { remoteDomain: domain, updatedSince: now - refusalWindowMs, states: ['failed'] },
          region,
        ),
      },
    });
  }
  return results;
}

/** The issue's scope: the tenants and forests whose mail the selected recipients are. */
async function scopeOf(context: ProbeContext, selection: RecipientSelection, region: string): Promise<IssueScope> {
  return { ...(await tenantsAndForestsOf(context.db, selection)), regions: [region], nodes: [] };
}
