// Durable acceptance with group commit. Each accepted message (already in the blob store) is written
// with its recipients and trace events; sessions that finish DATA while a commit is under way share
// the next transaction, so concurrent senders share one fsync instead of paying one each.
// The promise resolves only after the commit: that is when the client may be told `250`.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { writeInlineBlob, type InlineBlob } from '../../store/blobs/inline-blob.ts';
import { groupCommit } from '../../store/commit-modes.ts';
import { writeTrace } from '../trace.ts';
import { storeMetadata, type ComputedMetadata } from '../../mailbox/message-metadata.ts';
import type { Dialect } from '../../store/database.ts';

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

interface Pending {
  message: NewMessage;
  resolve(id: number): void;
  reject(error: unknown): void;
}

const maxBatch = 256;

export class IntakeCommitter {
  private pending: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly onCommitted: (messageIds: number[]) => void = () => {},
  ) {}

  submit(message: NewMessage): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush() {
    const batch = this.pending.splice(0, maxBatch);
    try {
      const ids = await groupCommit(this.db, async (trx) => {
        const out: number[] = [];
        for (const item of batch) out.push(await insertMessage(trx, item.message, this.dialect));
        return out;
      });
      batch.forEach((item, i) => item.resolve(ids[i]!));
      this.onCommitted(ids);
    } catch {
      // One bad entry must not fail its neighbours: commit them one by one.
      for (const item of batch) {
        try {
          const id = await groupCommit(this.db, (trx) => insertMessage(trx, item.message, this.dialect));
          item.resolve(id);
          this.onCommitted([id]);
        } catch (error) {
          item.reject(error);
        }
      }
    }
    if (this.pending.length > 0) setImmediate(() => void this.flush());
    else this.flushing = false;
  }
}

/** Inserts one message with its recipients, trace events and metadata (when computed); returns the message id. */
export async function insertMessage(trx: Transaction<Database>, m: NewMessage, dialect: Dialect): Promise<number> {
  if (m.inlineBlob) await writeInlineBlob(trx, m.inlineBlob, m.receivedAt);
  if (m.metadata) await storeMetadata(trx, dialect, m.blobHash, m.metadata, m.receivedAt);
  const { id } = await trx
    .insertInto('queue_messages')
    .values({
      blob_hash: m.blobHash,
      prefix: m.prefix,
      size: m.size,
      sender: m.sender,
      message_id: m.messageId ?? null,
      subject: m.subject ?? null,
      source: m.source,
      client_ip: m.clientIp ?? null,
      auth_principal_id: m.authPrincipalId ?? null,
      envid: m.envid ?? null,
      ret: m.ret ?? null,
      received_at: m.receivedAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const recipients = await trx
    .insertInto('queue_recipients')
    .values(
      m.recipients.map((r) => ({
        message_id: id,
        tenant_id: r.tenantId,
        recipient: r.recipient,
        original_recipient: r.originalRecipient,
        orcpt: r.orcpt ?? null,
        notify: r.notify ?? null,
        route: r.route,
        domain: r.domain,
        state: 'queued' as const,
        next_attempt_at: m.receivedAt,
        created_at: m.receivedAt,
        updated_at: m.receivedAt,
      })),
    )
    .returning(['id', 'recipient', 'route'])
    .execute();
  await writeTrace(trx, [
    { messageId: id, event: 'received', at: m.receivedAt, detail: { ...m.receivedDetail, sender: m.sender, size: m.size, messageId: m.messageId } },
    ...recipients.map((r) => ({ messageId: id, recipientId: r.id, event: 'queued' as const, at: m.receivedAt, detail: { recipient: r.recipient, route: r.route } })),
  ]);
  return id;
}
