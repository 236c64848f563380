// Message trace: find messages by sender, recipient or Message-ID and show each one's timeline.
import type { Kysely } from 'kysely';
import { invalid } from '../../errors.ts';
import type { Database } from '../../store/schema.ts';

export interface TraceQuery {
  sender?: string;
  recipient?: string;
  messageId?: string;
  since?: number;
  limit?: number;
}

export interface TracedMessage {
  id: number;
  sender: string;
  subject: string | null;
  messageIdHeader: string | null;
  receivedAt: number;
  events: { at: number; event: string; recipient?: string; reply?: string; [key: string]: unknown }[];
}

export async function traceMessages(db: Kysely<Database>, query: TraceQuery): Promise<TracedMessage[]> {
  if (!query.sender && !query.recipient && !query.messageId)
    throw invalid('invalid-option', 'give --sender, --recipient or --message-id');
  let messages = db
    .selectFrom('queue_messages as m')
    .select(['m.id', 'm.sender', 'm.subject', 'm.message_id', 'm.received_at']);
  if (query.sender) messages = messages.where('m.sender', '=', query.sender.toLowerCase());
  if (query.messageId)
    messages = messages.where(
      'm.message_id',
      '=',
      query.messageId.startsWith('<') ? query.messageId : `<${query.messageId}>`,
    );
  if (query.recipient) {
    const recipient = query.recipient.toLowerCase();
    messages = messages.where((eb) =>
      eb.exists(
        eb
          .selectFrom('queue_recipients as r')
          .select('r.id')
          .whereRef('r.message_id', '=', 'm.id')
          .where((inner) =>
            inner.or([inner('r.recipient', '=', recipient), inner('r.original_recipient', '=', recipient)]),
          ),
      ),
    );
  }
  if (query.since) messages = messages.where('m.received_at', '>=', query.since);
  const rows = await messages
    .orderBy('m.received_at', 'desc')
    .limit(query.limit ?? 50)
    .execute();
  const result: TracedMessage[] = [];
  for (const row of rows) {
    const events = await db
      .selectFrom('trace_events')
      .select(['at', 'event', 'detail'])
      .where('message_id', '=', row.id)
      .orderBy('at')
      .orderBy('id')
      .execute();
    result.push({
      id: row.id,
      sender: row.sender,
      subject: row.subject,
      messageIdHeader: row.message_id,
      receivedAt: Number(row.received_at),
      events: events.map((e) => ({ at: Number(e.at), event: e.event, ...JSON.parse(e.detail) })),
    });
  }
  return result;
}
