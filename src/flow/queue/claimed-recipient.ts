// A recipient of a queued message as the queue's workers see it once they hold its lease, and how it
// is read (claims, delay notices and the administrator's bounce all read the same shape).
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';

export interface QueuedMessage {
  id: number;
  blobHash: string;
  prefix: string;
  size: number;
  sender: string;
  envid: string | null;
  ret: string | null;
  receivedAt: number;
  source: string;
  /** The From address intake proved the message comes from, if any. */
  verifiedFrom: string | null;
}

export interface ClaimedRecipient {
  id: number;
  messageId: number;
  recipient: string;
  originalRecipient: string;
  orcpt: string | null;
  notify: string | null;
  route: 'local' | 'remote';
  domain: string;
  tenantId: number | null;
  attempts: number;
  delayNotified: boolean;
  /** The last reply of an earlier attempt, if any. */
  lastReply: string | null;
  /** Who holds the lease: an outcome is recorded only while the lease is still its own. */
  leaseOwner: string | null;
  message: QueuedMessage;
}

export interface Outcome {
  recipient: ClaimedRecipient;
  reply: string;
  remoteMta?: string | null;
}

export async function loadRecipients(
  db: Kysely<Database> | Transaction<Database>,
  ids: number[],
): Promise<ClaimedRecipient[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('queue_recipients as r')
    .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
    .select([
      'r.id',
      'r.message_id',
      'r.recipient',
      'r.original_recipient',
      'r.orcpt',
      'r.notify',
      'r.route',
      'r.domain',
      'r.tenant_id',
      'r.attempts',
      'r.delay_notified',
      'r.last_reply',
      'r.lease_owner',
      'm.blob_hash',
      'm.prefix',
      'm.size',
      'm.sender',
      'm.envid',
      'm.ret',
      'm.received_at',
      'm.source',
      'm.verified_from',
    ])
    .where('r.id', 'in', ids)
    .orderBy('r.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    messageId: r.message_id,
    recipient: r.recipient,
    originalRecipient: r.original_recipient,
    orcpt: r.orcpt,
    notify: r.notify,
    route: r.route,
    domain: r.domain,
    tenantId: r.tenant_id,
    attempts: Number(r.attempts),
    delayNotified: Boolean(r.delay_notified),
    lastReply: r.last_reply,
    leaseOwner: r.lease_owner,
    message: {
      id: r.message_id,
      blobHash: r.blob_hash,
      prefix: r.prefix,
      size: Number(r.size),
      sender: r.sender,
      envid: r.envid,
      ret: r.ret,
      receivedAt: Number(r.received_at),
      source: r.source,
      verifiedFrom: r.verified_from,
    },
  }));
}
