// Durable acceptance with group commit. Each accepted message (already in the blob store) is written
// with its recipients and trace events; sessions that finish DATA while a commit is under way share
// the next transaction, so concurrent senders share one fsync instead of paying one each.
// The promise resolves only after the commit: that is when the client may be told `250`.
import { sql, type Kysely, type Transaction } from 'kysely';
import { PreparedQuery, sqlFor } from '../../store/prepared-query.ts';
import type { Database } from '../../store/schema.ts';
import { writeInlineBlobs, type InlineBlob } from '../../store/blobs/inline-blob.ts';
import { Batcher, ItemFailed } from '../../store/batcher.ts';
import { groupCommit } from '../../store/commit-modes.ts';
import { writeTrace, type TraceEvent } from '../trace.ts';
import { storeMetadataOf, type ComputedMetadata } from '../../mailbox/message-metadata.ts';
import type { Dialect } from '../../store/database.ts';
import type { Logger } from '../../logging/logger.ts';
import { logReceived } from '../mail-log.ts';

export interface NewRecipient {
  recipient: string;
  originalRecipient: string;
  orcpt?: string | null;
  notify?: string | null;
  route: 'local' | 'remote';
  domain: string;
  tenantId: number | null;
}

export interface NewMessage {
  blobHash: string;
  /** Small content written in the same transaction (see store/blobs/inline-blob.ts). */
  inlineBlob?: InlineBlob;
  prefix: string;
  size: number;
  sender: string;
  messageId?: string | null;
  subject?: string | null;
  source: 'mx' | 'submission' | 'dsn';
  clientIp?: string | null;
  authPrincipalId?: number | null;
  /** The message's one From address, when intake proved the message comes from it. */
  verifiedFrom?: string | null;
  envid?: string | null;
  ret?: string | null;
  receivedAt: number;
  recipients: NewRecipient[];
  /** What the "received" trace event records (client, helo, TLS, auth results...). */
  receivedDetail: Record<string, unknown>;
  /**
   * The content's metadata, computed at intake for small content bound for a local mailbox: stored
   * with the message, so that delivery need not read the content back to compute it.
   */
  metadata?: ComputedMetadata;
}

/** At most this many messages per transaction. */
const maxBatch = 256;

export class IntakeCommitter {
  private readonly batch: Batcher<NewMessage, number>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly onCommitted: (messageIds: number[]) => void = () => {},
    /** Where each committed message's "mail received" line goes (mail-log.ts), when set. */
    private readonly log?: Logger,
  ) {
    // PostgreSQL: a second batch is written while the first waits for its commit's round trip.
    this.batch = new Batcher((messages) => this.commit(messages), maxBatch, dialect === 'postgres' ? 2 : 1);
  }

  /** Resolves with the message's queue id once it is committed. */
  submit(message: NewMessage): Promise<number> {
    return this.batch.add(message);
  }

  private async commit(messages: NewMessage[]): Promise<(number | ItemFailed)[]> {
    try {
      const ids = await groupCommit(this.db, (trx) => insertMessages(trx, messages, this.dialect));
      this.committed(messages, ids);
      return ids;
    } catch {
      // One bad entry must not fail its neighbours: commit them one by one.
      const results: (number | ItemFailed)[] = [];
      for (const message of messages) {
        try {
          const id = await groupCommit(this.db, (trx) => insertMessage(trx, message, this.dialect));
          this.committed([message], [id]);
          results.push(id);
        } catch (error) {
          results.push(new ItemFailed(error));
        }
      }
      return results;
    }
  }

  private committed(messages: NewMessage[], ids: number[]) {
    messages.forEach((message, i) => logReceived(this.log, ids[i]!, message));
    this.onCommitted(ids);
  }
}

// A batch's messages, and then its recipients, go in as one statement each (a round trip per statement
// costs PostgreSQL more than the rows do): the rows travel as one JSON array, as trace events do
// (flow/trace.ts), so the statement has one shape for any batch and is prepared once. Rows are
// inserted in the order given, which is the order of the ids they get (see writeTrace): sorting the
// returned ids gives each row its id whatever order RETURNING lists them in.
const insertQueueMessages = new PreparedQuery<{ rows: string }, { id: number }>((db, arg) =>
  sqlFor(db, {
    postgres: sql`insert into queue_messages (blob_hash, prefix, size, sender, message_id, subject, source, client_ip,
        auth_principal_id, verified_from, envid, ret, received_at)
      select e.value ->> 0, e.value ->> 1, (e.value ->> 2)::bigint, e.value ->> 3, e.value ->> 4, e.value ->> 5,
        e.value ->> 6, e.value ->> 7, (e.value ->> 8)::bigint, e.value ->> 9, e.value ->> 10, e.value ->> 11,
        (e.value ->> 12)::bigint
      from json_array_elements(${arg('rows')}::json) with ordinality as e(value, n) order by e.n
      returning id`,
    sqlite: sql`insert into queue_messages (blob_hash, prefix, size, sender, message_id, subject, source, client_ip,
        auth_principal_id, verified_from, envid, ret, received_at)
      select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
        value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12
      from json_each(${arg('rows')}) order by key
      returning id`,
  }),
);

const insertQueueRecipients = new PreparedQuery<{ rows: string }, { id: number }>((db, arg) =>
  sqlFor(db, {
    postgres: sql`insert into queue_recipients (message_id, tenant_id, recipient, original_recipient, orcpt, notify,
        route, domain, state, next_attempt_at, created_at, updated_at)
      select (e.value ->> 0)::bigint, (e.value ->> 1)::bigint, e.value ->> 2, e.value ->> 3, e.value ->> 4,
        e.value ->> 5, e.value ->> 6, e.value ->> 7, 'queued', (e.value ->> 8)::bigint, (e.value ->> 8)::bigint,
        (e.value ->> 8)::bigint
      from json_array_elements(${arg('rows')}::json) with ordinality as e(value, n) order by e.n
      returning id`,
    sqlite: sql`insert into queue_recipients (message_id, tenant_id, recipient, original_recipient, orcpt, notify,
        route, domain, state, next_attempt_at, created_at, updated_at)
      select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
        'queued', value ->> 8, value ->> 8, value ->> 8
      from json_each(${arg('rows')}) order by key
      returning id`,
  }),
);

/** The ids a statement gave its rows, in the order the rows were given. */
async function insertedIds(trx: Transaction<Database>, query: typeof insertQueueMessages, rows: unknown[][]) {
  const returned = await query.rows(trx, { rows: JSON.stringify(rows) });
  return returned.map((r) => Number(r.id)).sort((a, b) => a - b);
}

/**
 * Inserts messages with their recipients, trace events, content (when small) and metadata (when
 * computed); returns their ids. Each table gets one statement for the whole batch.
 */
export async function insertMessages(
  trx: Transaction<Database>,
  messages: NewMessage[],
  dialect: Dialect,
): Promise<number[]> {
  if (messages.length === 0) return [];
  await writeInlineBlobs(
    trx,
    messages.flatMap((m) => (m.inlineBlob ? [{ blob: m.inlineBlob, now: m.receivedAt }] : [])),
  );
  await storeMetadataOf(
    trx,
    dialect,
    messages.flatMap((m) => (m.metadata ? [{ hash: m.blobHash, computed: m.metadata, now: m.receivedAt }] : [])),
  );
  const ids = await insertedIds(
    trx,
    insertQueueMessages,
    messages.map((m) => [
      m.blobHash,
      m.prefix,
      m.size,
      m.sender,
      m.messageId ?? null,
      m.subject ?? null,
      m.source,
      m.clientIp ?? null,
      m.authPrincipalId ?? null,
      m.verifiedFrom ?? null,
      m.envid ?? null,
      m.ret ?? null,
      m.receivedAt,
    ]),
  );
  const recipients = messages.flatMap((m, i) => m.recipients.map((r) => ({ m, r, messageId: ids[i]! })));
  const recipientIds = await insertedIds(
    trx,
    insertQueueRecipients,
    recipients.map(({ m, r, messageId }) => [
      messageId,
      r.tenantId,
      r.recipient,
      r.originalRecipient,
      r.orcpt ?? null,
      r.notify ?? null,
      r.route,
      r.domain,
      m.receivedAt,
    ]),
  );
  const trace: TraceEvent[] = messages.map((m, i) => ({
    messageId: ids[i]!,
    event: 'received',
    at: m.receivedAt,
    detail: { ...m.receivedDetail, sender: m.sender, size: m.size, messageId: m.messageId },
  }));
  recipients.forEach(({ m, r, messageId }, i) =>
    trace.push({
      messageId,
      recipientId: recipientIds[i]!,
      event: 'queued',
      at: m.receivedAt,
      detail: { recipient: r.recipient, route: r.route },
    }),
  );
  await writeTrace(trx, trace);
  return ids;
}

export async function insertMessage(trx: Transaction<Database>, m: NewMessage, dialect: Dialect): Promise<number> {
  return (await insertMessages(trx, [m], dialect))[0]!;
}
