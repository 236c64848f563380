// Where continuity stands for each upstream, as `holdfast continuity status`, the metrics and the
// event's posts tell it: the event (if any) and since when, the mail it held, replayed and still
// waiting, the upstream's last replies, and how long the rest should take at the current pace.
import type { Kysely } from 'kysely';
import type { ContinuitySettings, ContinuityUpstream } from '../config/schema.ts';
import { backlogCounts, copyStart } from '../flow/queue/domain-backlog.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { ContinuityEvents, type ContinuityEvent } from './continuity-events.ts';
import { UpstreamRecords, type UpstreamRecord } from './upstream-record.ts';

export interface UpstreamStatus {
  upstream: string;
  domains: string[];
  /** host:port only: the route's credentials are never shown. */
  server: string;
  state: 'normal' | 'active' | 'recovering';
  /** When the current state began (the event's start, or its recovery); null when normal. */
  since: number | null;
  event: ContinuityEvent | null;
  /** The last event, closed, when none is under way. */
  lastEvent: ContinuityEvent | null;
  failingSince: number | null;
  lastSuccessAt: number | null;
  lastReplies: UpstreamRecord['lastReplies'];
  /** Messages copied into mailboxes during the event (one per queued recipient and mailbox). */
  held: number;
  /** Recipients delivered upstream since the event began recovering. */
  replayed: number;
  /** Recipients of the upstream's domains waiting in the queue. */
  waiting: number;
  /** Recipients delivered upstream in the last minute (with no event: only while something waits). */
  perMinute: number;
  /** Time to deliver what waits at the last minute's pace; null when nothing goes. */
  drainEstimateMs: number | null;
}

export async function continuityStatus(
  db: Kysely<Database>,
  dialect: Dialect,
  settings: ContinuitySettings,
  now: number,
): Promise<UpstreamStatus[]> {
  const events = new ContinuityEvents(db);
  const records = new UpstreamRecords(db, dialect);
  return Promise.all(settings.upstreams.map((u) => upstreamStatus(db, events, records, u, now)));
}

async function upstreamStatus(
  db: Kysely<Database>,
  events: ContinuityEvents,
  records: UpstreamRecords,
  upstream: ContinuityUpstream,
  now: number,
): Promise<UpstreamStatus> {
  const event = (await events.open(upstream.name)) ?? null;
  const lastEvent = event ? null : ((await events.latest(upstream.name)) ?? null);
  const record = await records.get(upstream.name);
  // What finished in the last minute is counted above the event's copy cursor, or with no event above
  // the oldest waiting recipient (none counted when nothing waits): never all that the queue keeps.
  const afterId = event ? event.copyCursor : await copyStart(db, upstream.domains);
  const counts = await backlogCounts(db, upstream.domains, { before: now, since: now - 60_000, afterId });
  const replayed = event?.recoveringSince
    ? (await backlogCounts(db, upstream.domains, { before: now, since: event.recoveringSince, afterId })).deliveredSince
    : 0;
  const shown = event ?? lastEvent;
  const held = shown ? await copiesOf(db, shown.id) : 0;
  return {
    upstream: upstream.name,
    domains: upstream.domains,
    server: upstream.url.host,
    state: event ? (event.state === 'recovering' ? 'recovering' : 'active') : 'normal',
    since: event ? (event.state === 'recovering' ? event.recoveringSince : event.startedAt) : null,
    event,
    lastEvent,
    failingSince: record.failingSince,
    lastSuccessAt: record.lastSuccessAt,
    lastReplies: record.lastReplies,
    held,
    replayed,
    waiting: counts.waiting,
    perMinute: counts.deliveredSince,
    drainEstimateMs:
      counts.waiting === 0
        ? 0
        : counts.deliveredSince > 0
          ? Math.round((counts.waiting / counts.deliveredSince) * 60_000)
          : null,
  };
}

/** Copies an event made (queued recipients copied into a mailbox). */
export async function copiesOf(db: Kysely<Database>, eventId: number): Promise<number> {
  const row = await db
    .selectFrom('continuity_copies')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('event_id', '=', eventId)
    .where('uid', 'is not', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
