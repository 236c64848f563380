// Durable acceptance with group commit. Each accepted message (already in the blob store) is written
// with its recipients and trace events; sessions that finish DATA while a commit is under way share
// the next transaction, so concurrent senders share one fsync instead of paying one each.
// The promise resolves only after the commit: that is when the client may be told `250`.
import type { Kysely, Transaction } from 'kysely';
import { PreparedQuery } from '../../store/prepared-query.ts';
import type { Database, QueueMessageTable, QueueRecipientTable } from '../../store/schema.ts';
import { writeInlineBlob, type InlineBlob } from '../../store/blobs/inline-blob.ts';
import { Batcher, ItemFailed } from '../../store/batcher.ts';
import { groupCommit } from '../../store/commit-modes.ts';
import { writeTrace, type TraceEvent } from '../trace.ts';
import { storeMetadata, type ComputedMetadata } from '../../mailbox/message-metadata.ts';
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
  private readonly batch = new Batcher<NewMessage, number>((messages) => this.commit(messages), maxBatch);

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly onCommitted: (messageIds: number[]) => void = () => {},
    /** Where each committed message's "mail received" line goes (mail-log.ts), when set. */
    private readonly log?: Logger,
  ) {}

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

type QueueMessageValues = {
  blobHash: string;
  prefix: string;
  size: number;
  sender: string;
  messageId: string | null;
  subject: string | null;
  source: QueueMessageTable['source'];
  clientIp: string | null;
  authPrincipalId: number | null;
  verifiedFrom: string | null;
  envid: string | null;
  ret: string | null;
  receivedAt: number;
};
const insertQueueMessage = new PreparedQuery<QueueMessageValues, { id: number }>((db, arg) =>
  db
    .insertInto('queue_messages')
    .values({
      blob_hash: arg('blobHash'),
      prefix: arg('prefix'),
      size: arg('size'),
      sender: arg('sender'),
      message_id: arg('messageId'),
      subject: arg('subject'),
      source: arg('source'),
      client_ip: arg('clientIp'),
      auth_principal_id: arg('authPrincipalId'),
      verified_from: arg('verifiedFrom'),
      envid: arg('envid'),
      ret: arg('ret'),
      received_at: arg('receivedAt'),
    })
    .returning('id'),
);

type QueueRecipientValues = {
  messageId: number;
  tenantId: number | null;
  recipient: string;
  originalRecipient: string;
  orcpt: string | null;
  notify: string | null;
  route: QueueRecipientTable['route'];
  domain: string;
  receivedAt: number;
};
const insertQueueRecipient = new PreparedQuery<
  QueueRecipientValues,
  { id: number; recipient: string; route: QueueRecipientTable['route'] }
>((db, arg) =>
  db
    .insertInto('queue_recipients')
    .values({
      message_id: arg('messageId'),
      tenant_id: arg('tenantId'),
      recipient: arg('recipient'),
      original_recipient: arg('originalRecipient'),
      orcpt: arg('orcpt'),
      notify: arg('notify'),
      route: arg('route'),
      domain: arg('domain'),
      state: 'queued',
      next_attempt_at: arg('receivedAt'),
      created_at: arg('receivedAt'),
      updated_at: arg('receivedAt'),
    })
    .returning(['id', 'recipient', 'route']),
);

/**
 * Inserts messages with their recipients, trace events and metadata (when computed); returns their
 * ids. The trace events of all of them are written together (one statement).
 */
export async function insertMessages(
  trx: Transaction<Database>,
  messages: NewMessage[],
  dialect: Dialect,
): Promise<number[]> {
  const trace: TraceEvent[] = [];
  const ids: number[] = [];
  for (const m of messages) ids.push(await insertOne(trx, m, dialect, trace));
  await writeTrace(trx, trace);
  return ids;
}

export async function insertMessage(trx: Transaction<Database>, m: NewMessage, dialect: Dialect): Promise<number> {
  return (await insertMessages(trx, [m], dialect))[0]!;
}

/** Inserts one message, adding its trace events to `trace` for the caller to write. */
async function insertOne(
  trx: Transaction<Database>,
  m: NewMessage,
  dialect: Dialect,
  trace: TraceEvent[],
): Promise<number> {
  if (m.inlineBlob) await writeInlineBlob(trx, m.inlineBlob, m.receivedAt);
  if (m.metadata) await storeMetadata(trx, dialect, m.blobHash, m.metadata, m.receivedAt);
  const inserted = await insertQueueMessage.first(trx, {
    blobHash: m.blobHash,
    prefix: m.prefix,
    size: m.size,
    sender: m.sender,
    messageId: m.messageId ?? null,
    subject: m.subject ?? null,
    source: m.source,
    clientIp: m.clientIp ?? null,
    authPrincipalId: m.authPrincipalId ?? null,
    verifiedFrom: m.verifiedFrom ?? null,
    envid: m.envid ?? null,
    ret: m.ret ?? null,
    receivedAt: m.receivedAt,
  });
  const id = inserted!.id;
  const recipients: { id: number; recipient: string; route: QueueRecipientTable['route'] }[] = [];
  for (const r of m.recipients) {
    const row = await insertQueueRecipient.first(trx, {
      messageId: id,
      tenantId: r.tenantId,
      recipient: r.recipient,
      originalRecipient: r.originalRecipient,
      orcpt: r.orcpt ?? null,
      notify: r.notify ?? null,
      route: r.route,
      domain: r.domain,
      receivedAt: m.receivedAt,
    });
    recipients.push(row!);
  }
  trace.push(
    {
      messageId: id,
      event: 'received',
      at: m.receivedAt,
      detail: { ...m.receivedDetail, sender: m.sender, size: m.size, messageId: m.messageId },
    },
    ...recipients.map((r) => ({
      messageId: id,
      recipientId: r.id,
      event: 'queued' as const,
      at: m.receivedAt,
      detail: { recipient: r.recipient, route: r.route },
    })),
  );
  return id;
}
