// Trace events: every step of a message's walk, written in the same transaction as the step itself.
// Message trace and queue views read these and the queue; there is no second bookkeeping.
import type { Kysely, Transaction } from 'kysely';
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
  if (events.length === 0) return;
  await db
    .insertInto('trace_events')
    .values(events.map((e) => ({ message_id: e.messageId, recipient_id: e.recipientId ?? null, at: e.at, event: e.event, detail: JSON.stringify(e.detail ?? {}) })))
    .execute();
}
