// The queue and message trace as a tenant administrator may see them (the admin API). A queue
// recipient belongs to a tenant (the recipient's for local mail, the sender's for mail going out):
// a tenant administrator sees the messages with at least one recipient of theirs, and of each only
// those recipients and the events about them or the whole message (received, held, released,
// retried). Another tenant's message is "no message N in the queue", as one that does not exist.
// Holding, releasing, retrying and bouncing act on a whole message, so a tenant administrator may
// act only on messages all of whose recipients are theirs; a global administrator acts on any.
import type { Kysely } from 'kysely';
import { forbidden, invalid, notFound } from '../../errors.ts';
import type { Database } from '../../store/schema.ts';
import type { TracedMessage, TraceQuery } from './trace-query.ts';

/** Whose queue: every tenant's (undefined) or one tenant's. */
export type QueueViewer = { tenantId?: number };

const unknownMessage = (id: number) => notFound('unknown-message', `no message ${id} in the queue`);

/** The ids of a message's recipients the viewer may see; throws unknown-message when it sees none (or there is none). */
export async function visibleRecipients(db: Kysely<Database>, messageId: number, viewer: QueueViewer) {
  const rows = await db
    .selectFrom('queue_recipients')
    .select(['id', 'tenant_id'])
    .where('message_id', '=', messageId)
    .execute();
  const seen = rows.filter((r) => viewer.tenantId === undefined || r.tenant_id === viewer.tenantId);
  const exists =
    seen.length > 0 ||
    (viewer.tenantId === undefined &&
      (await db.selectFrom('queue_messages').select('id').where('id', '=', messageId).executeTakeFirst()));
  if (!exists) throw unknownMessage(messageId);
  return { ids: new Set(seen.map((r) => r.id)), all: seen.length === rows.length };
}

/** A message the viewer may act on as a whole (hold, release, retry, bounce). */
export async function requireActionable(db: Kysely<Database>, messageId: number, viewer: QueueViewer) {
  const { all } = await visibleRecipients(db, messageId, viewer);
  if (!all)
    throw forbidden(
      'shared-message',
      `message ${messageId} also has recipients of other tenants: a global administrator acts on it`,
    );
}

export interface TraceSearch extends TraceQuery {
  /** Only messages received before this time (epoch ms). */
  until?: number;
}

/**
 * Message trace for the admin API: messages by sender, recipient, Message-ID and time of receipt,
 * newest first, each with its events in order; for a tenant, only its messages, recipients' events
 * and message-wide events.
 */
export async function searchTrace(
  db: Kysely<Database>,
  query: TraceSearch,
  viewer: QueueViewer,
): Promise<TracedMessage[]> {
  if (!query.sender && !query.recipient && !query.messageId && query.since === undefined)
    throw invalid('invalid-query', 'give sender, recipient, messageId or since');
  const tenant = viewer.tenantId;
  let messages = db
    .selectFrom('queue_messages as m')
    .select(['m.id', 'm.sender', 'm.subject', 'm.message_id', 'm.received_at']);
  if (query.sender) messages = messages.where('m.sender', '=', query.sender.trim().toLowerCase());
  if (query.messageId) {
    const id = query.messageId.trim();
    messages = messages.where('m.message_id', '=', id.startsWith('<') ? id : `<${id}>`);
  }
  const recipient = query.recipient?.trim().toLowerCase();
  if (recipient || tenant !== undefined)
    messages = messages.where((eb) =>
      eb.exists(
        eb
          .selectFrom('queue_recipients as r')
          .select('r.id')
          .whereRef('r.message_id', '=', 'm.id')
          .where((inner) =>
            inner.and([
              ...(recipient
                ? [inner.or([inner('r.recipient', '=', recipient), inner('r.original_recipient', '=', recipient)])]
                : []),
              ...(tenant !== undefined ? [inner('r.tenant_id', '=', tenant)] : []),
            ]),
          ),
      ),
    );
  if (query.since !== undefined) messages = messages.where('m.received_at', '>=', query.since);
  if (query.until !== undefined) messages = messages.where('m.received_at', '<', query.until);
  const rows = await messages
    .orderBy('m.received_at', 'desc')
    .orderBy('m.id', 'desc')
    .limit(query.limit ?? 50)
    .execute();
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  let events = db
    .selectFrom('trace_events as e')
    .select(['e.message_id', 'e.at', 'e.event', 'e.detail'])
    .where('e.message_id', 'in', ids);
  if (tenant !== undefined)
    events = events.where((eb) =>
      eb.or([
        eb('e.recipient_id', 'is', null),
        eb(
          'e.recipient_id',
          'in',
          eb
            .selectFrom('queue_recipients as r')
            .select('r.id')
            .where('r.message_id', 'in', ids)
            .where('r.tenant_id', '=', tenant),
        ),
      ]),
    );
  const byMessage = new Map<number, TracedMessage['events']>();
  for (const e of await events.orderBy('e.at').orderBy('e.id').execute()) {
    const list = byMessage.get(e.message_id) ?? [];
    list.push({ at: Number(e.at), event: e.event, ...JSON.parse(e.detail) });
    byMessage.set(e.message_id, list);
  }
  return rows.map((row) => ({
    id: row.id,
    sender: row.sender,
    subject: row.subject,
    messageIdHeader: row.message_id,
    receivedAt: Number(row.received_at),
    events: byMessage.get(row.id) ?? [],
  }));
}
