// Why mail is waiting, per destination: for every domain with undelivered remote mail, how much,
// since when, what the destination last answered, when the next attempt is, the sending
// concurrency the running node uses for it, and one sentence that explains it. What an
// administrator needs during someone else's outage.
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import type { DestinationState } from '../delivery/destination-control.ts';

export interface DestinationInsight {
  destination: string;
  waiting: number;
  deferred: number;
  inFlight: number;
  oldestSince: number;
  attempts: number;
  lastReply: string | null;
  lastAttemptAt: number | null;
  nextAttemptAt: number | null;
  /** From the running node's queue: its current concurrency for this destination, if it has one. */
  concurrency: { limit: number; active: number; deadUntil: number | null } | null;
  explanation: string;
}

export interface QueueBacklog {
  queued: number;
  inFlight: number;
  deferred: number;
  /** Age of the oldest recipient not yet delivered or failed; 0 when nothing waits. */
  oldestAgeSeconds: number;
}

/** How much mail waits, all destinations together. */
export async function queueBacklog(db: Kysely<Database>, now: number): Promise<QueueBacklog> {
  const counts = await db
    .selectFrom('queue_recipients')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min<number>('created_at').as('oldest')])
    .where('state', 'in', ['queued', 'inflight', 'deferred'])
    .groupBy('state')
    .execute();
  const count = (state: string) => Number(counts.find((c) => c.state === state)?.n ?? 0);
  const oldest = Math.min(...counts.map((c) => Number(c.oldest)));
  return {
    queued: count('queued'),
    inFlight: count('inflight'),
    deferred: count('deferred'),
    oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, Math.round((now - oldest) / 1000)) : 0,
  };
}

export async function queueInsight(
  db: Kysely<Database>,
  now: number,
  live: DestinationState[] = [],
): Promise<DestinationInsight[]> {
  const rows = await db
    .selectFrom('queue_recipients')
    .select(['domain', 'state', 'attempts', 'last_reply', 'last_attempt_at', 'next_attempt_at', 'created_at'])
    .where('route', '=', 'remote')
    .where('state', 'in', ['queued', 'inflight', 'deferred'])
    .orderBy('domain')
    .execute();
  const byDomain = new Map<string, typeof rows>();
  for (const row of rows) byDomain.set(row.domain, [...(byDomain.get(row.domain) ?? []), row]);
  const liveByDomain = new Map(live.map((s) => [s.destination, s]));
  const insights: DestinationInsight[] = [];
  for (const [destination, list] of byDomain) {
    const deferred = list.filter((r) => r.state === 'deferred');
    const latest = [...list]
      .filter((r) => r.last_attempt_at !== null)
      .sort((a, b) => Number(b.last_attempt_at) - Number(a.last_attempt_at))[0];
    const state = liveByDomain.get(destination);
    const insight: DestinationInsight = {
      destination,
      waiting: list.length,
      deferred: deferred.length,
      inFlight: list.filter((r) => r.state === 'inflight').length,
      oldestSince: Math.min(...list.map((r) => Number(r.created_at))),
      attempts: Math.max(...list.map((r) => Number(r.attempts))),
      lastReply: latest?.last_reply ?? null,
      lastAttemptAt: latest ? Number(latest.last_attempt_at) : null,
      nextAttemptAt: deferred.length ? Math.min(...deferred.map((r) => Number(r.next_attempt_at))) : null,
      concurrency: state
        ? { limit: state.limit, active: state.active, deadUntil: state.deadUntil > now ? state.deadUntil : null }
        : null,
      explanation: '',
    };
    insight.explanation = explain(insight, now);
    insights.push(insight);
  }
  return insights.sort((a, b) => a.oldestSince - b.oldestSince);
}

function explain(insight: DestinationInsight, now: number): string {
  const next = insight.nextAttemptAt ? `next attempt ${inMinutes(insight.nextAttemptAt - now)}` : 'being delivered now';
  const reply = insight.lastReply ?? '';
  if (insight.concurrency?.deadUntil)
    return `${insight.destination} cannot be reached (${reply || 'no answer'}); Holdfast sends it one probe at a time until it answers again; ${next}`;
  if (!reply) return insight.inFlight ? `first delivery attempt under way` : `waiting for its first delivery attempt`;
  if (/^421\b|4\.3\.2|too many|concurrent connections|connection limit/i.test(reply)) {
    const concurrency = insight.concurrency
      ? `; Holdfast lowered its concurrency there to ${insight.concurrency.limit}`
      : '';
    return `${insight.destination} is limiting connections (${reply.slice(0, 120)})${concurrency}; ${next}`;
  }
  if (/^4\d\d/.test(reply))
    return `${insight.destination} answered with a temporary failure (${reply.slice(0, 120)}); ${next}`;
  return `last attempt: ${reply.slice(0, 120)}; ${next}`;
}

function inMinutes(ms: number): string {
  if (ms <= 0) return 'due now';
  const minutes = Math.round(ms / 60_000);
  return minutes < 1 ? 'in under a minute' : minutes < 120 ? `in ${minutes} min` : `in ${Math.round(minutes / 60)} h`;
}
