// Trace events: every step of a message's walk, written in the same transaction as the step itself.
// Message trace and queue views read these and the queue; there is no second bookkeeping.
import type { Kysely, Transaction } from 'kysely';
import { PreparedQuery } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';

export type TraceEventName = 'received' | 'queued' | 'attempt' | 'delivered' | 'deferred' | 'bounced' | 'expired' | 'delay-notice' | 'held' | 'released' | 'retry';

export interface TraceEvent {
  messageId: number;
  recipientId?: number | null;
  event: TraceEventName;
  at: number;
  detail?: Record<string, unknown>;
}

export async function writeTrace(db: Kysely<Database> | Transaction<Database>, events: TraceEvent[]) {
  // One prepared insert per event: cheaper than building a multi-row insert for the few a step writes.
  for (const e of events) {
    await insertEvent.run(db, { messageId: e.messageId, recipientId: e.recipientId ?? null, at: e.at, event: e.event, detail: JSON.stringify(e.detail ?? {}) });
  }
}

const insertEvent = new PreparedQuery<{ messageId: number; recipientId: number | null; at: number; event: TraceEventName; detail: string }, never>((db, arg) =>
  db.insertInto('trace_events').values({ message_id: arg('messageId'), recipient_id: arg('recipientId'), at: arg('at'), event: arg('event'), detail: arg('detail') }),
);
