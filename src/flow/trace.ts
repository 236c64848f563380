// Trace events: every step of a message's walk, written in the same transaction as the step itself.
// Message trace and queue views read these and the queue; there is no second bookkeeping.
import { sql, type Kysely, type Transaction } from 'kysely';
import { PreparedQuery, sqlFor } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';

export type TraceEventName =
  | 'received'
  | 'queued'
  | 'attempt'
  | 'delivered'
  | 'deferred'
  | 'bounced'
  | 'expired'
  | 'delay-notice'
  | 'held'
  | 'released'
  | 'retry';

export interface TraceEvent {
  messageId: number;
  recipientId?: number | null;
  event: TraceEventName;
  at: number;
  detail?: Record<string, unknown>;
}

/**
 * Writes the events in one statement, however many: a transaction's steps (a batch of accepted
 * messages with their recipients, a batch of deliveries) collect theirs and write them together.
 * On PostgreSQL every statement is a round trip; one insert per event was three of the ~23 a
 * message cost from intake to mailbox (bench/statements.ts).
 */
export async function writeTrace(db: Kysely<Database> | Transaction<Database>, events: TraceEvent[]) {
  if (events.length === 0) return;
  const rows = events.map((e) => [e.messageId, e.recipientId ?? null, e.at, e.event, JSON.stringify(e.detail ?? {})]);
  await insertEvents.run(db, { rows: JSON.stringify(rows) });
}

/**
 * The rows travel as one JSON array of [message_id, recipient_id, at, event, detail] (detail is JSON
 * text itself), so the statement has one shape for any number of rows and is prepared once. They are
 * inserted in the order given, which is the order of their ids (a trace lists events by time, then id).
 */
const insertEvents = new PreparedQuery<{ rows: string }, never>((db, arg) =>
  sqlFor(db, {
    postgres: sql`insert into trace_events (message_id, recipient_id, at, event, detail)
      select (e.value ->> 0)::bigint, (e.value ->> 1)::bigint, (e.value ->> 2)::bigint, e.value ->> 3, e.value ->> 4
      from json_array_elements(${arg('rows')}::json) with ordinality as e(value, n) order by e.n`,
    sqlite: sql`insert into trace_events (message_id, recipient_id, at, event, detail)
      select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 from json_each(${arg('rows')}) order by key`,
  }),
);
