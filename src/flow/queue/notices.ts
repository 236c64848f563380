// Notices to senders: DSNs (RFC 3464, composed by dsn.ts) for recipients that failed, and "Delayed
// Mail" notices for mail still deferred after `delay_notice`. A notice is a new queued message,
// committed in the same transaction as the state it reports; never sent to the null sender. Delay
// notices are looked for once a minute by one node (the singleton "delay-notices", started by
// server/queue-service.ts): two nodes finding the same deferred recipient would each tell its sender.
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { groupCommit } from '../../store/commit-modes.ts';
import type { Dialect } from '../../store/database.ts';
import type { Database } from '../../store/schema.ts';
import { logReceived } from '../mail-log.ts';
import { routeRecipient, upstreamDomainsOf } from '../router.ts';
import { SrsKey } from '../srs.ts';
import { writeTrace } from '../trace.ts';
import { loadRecipients, type Outcome, type QueuedMessage } from './claimed-recipient.ts';
import { buildDsn, wantsNotice, type DsnRecipient } from './dsn.ts';
import { insertMessages, type NewMessage } from './intake-committer.ts';
import type { Fence } from './queue-retention.ts';

export interface NoticeDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  directory: Directory;
  config: Pick<Config, 'hostname' | 'queue' | 'continuity'>;
  log?: Logger;
  now(): number;
}

/** A notice written to the blob store, waiting to be queued with the state it reports. */
export interface PreparedNotice {
  dsnFor: number;
  message: NewMessage;
}

export class Notices {
  private readonly srs: SrsKey;

  constructor(private readonly deps: NoticeDeps) {
    this.srs = new SrsKey(deps.db, deps.now);
  }

  /**
   * Who a notice about `sender`'s message goes to: a forward we made carries an SRS0 sender at our
   * domain (flow/srs.ts), whose notice belongs to the original sender. Only our own SRS0 addresses
   * are undone (their keyed hash says so); any other address is answered as it is.
   */
  private async noticeAddress(sender: string): Promise<string> {
    return (await this.srs.unwind(sender, () => true)).address;
  }

  /** Queues notices in the caller's transaction; logQueued() logs them once it has committed. */
  async queue(trx: Transaction<Database>, notices: PreparedNotice[]) {
    const ids = await insertMessages(
      trx,
      notices.map((notice) => notice.message),
      this.deps.dialect,
    );
    return notices.map((notice, i) => ({ ...notice, queueId: ids[i]! }));
  }

  logQueued(queued: { queueId: number; message: NewMessage }[]) {
    for (const notice of queued) logReceived(this.deps.log, notice.queueId, notice.message);
  }

  /**
   * Tells senders whose mail has waited longer than `delay_notice` that it is still being retried.
   * `fence` runs first in the transaction that records and queues the notices.
   */
  async sendDelayNotices(fence?: Fence): Promise<number> {
    const now = this.deps.now();
    const { delayNoticeMs, expireMs } = this.deps.config.queue;
    const rows = await this.deps.db
      .selectFrom('queue_recipients as r')
      .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
      .select('r.id')
      .where('r.state', '=', 'deferred')
      .where('r.delay_notified', '=', 0)
      .where('m.received_at', '<=', now - delayNoticeMs)
      .where('m.sender', '!=', '')
      .limit(500)
      .execute();
    const due = (
      await loadRecipients(
        this.deps.db,
        rows.map((r) => r.id),
      )
    ).filter((r) => wantsNotice(r.notify, 'delayed'));
    if (due.length === 0) return 0;
    const outcomes = due.map((recipient) => ({ recipient, reply: recipient.lastReply ?? '' }));
    const notices = await this.prepare(outcomes, 'delayed', (m) => m.receivedAt + expireMs);
    const queued = await groupCommit(this.deps.db, async (trx) => {
      await fence?.(trx);
      await trx
        .updateTable('queue_recipients')
        .set({ delay_notified: 1 })
        .where(
          'id',
          'in',
          due.map((r) => r.id),
        )
        .execute();
      await writeTrace(
        trx,
        due.map((r) => ({
          messageId: r.messageId,
          recipientId: r.id,
          event: 'delay-notice' as const,
          at: now,
          detail: { recipient: r.recipient },
        })),
      );
      return this.queue(trx, notices);
    });
    this.logQueued(queued);
    return due.length;
  }

  /** One DSN per original message, written to the blob store before the transaction that queues it. */
  async prepare(outcomes: Outcome[], kind: 'failed' | 'delayed', retryUntil?: (m: QueuedMessage) => number) {
    const byMessage = new Map<number, Outcome[]>();
    for (const o of outcomes) {
      // Never to the null sender (that is how bounce loops start), and only when asked for.
      if (o.recipient.message.sender === '' || !wantsNotice(o.recipient.notify, kind)) continue;
      byMessage.set(o.recipient.messageId, [...(byMessage.get(o.recipient.messageId) ?? []), o]);
    }
    const now = this.deps.now();
    const notices: PreparedNotice[] = [];
    for (const group of byMessage.values()) {
      const message = group[0]!.recipient.message;
      const notifyTo = await this.noticeAddress(message.sender);
      // To a continuity user, a notice goes to the upstream with the rest of their mail (docs/continuity.md).
      const route = await routeRecipient(
        this.deps.directory,
        notifyTo,
        null,
        undefined,
        upstreamDomainsOf(this.deps.config.continuity),
      ).catch(() => undefined);
      if (!route || route.kind === 'unknown' || route.recipients.length === 0) continue;
      const recipients: DsnRecipient[] = group.map((o) => ({
        recipient: o.recipient.originalRecipient,
        orcpt: o.recipient.orcpt,
        reply: o.reply || null,
        remoteMta: o.remoteMta,
        lastAttemptAt: now,
      }));
      const blob = await this.deps.blobs.put(
        buildDsn(this.deps.blobs, {
          kind,
          hostname: this.deps.config.hostname,
          sender: notifyTo,
          original: message,
          recipients,
          retryUntil: retryUntil?.(message),
          now,
        }),
      );
      notices.push({
        dsnFor: message.id,
        message: {
          blobHash: blob.hash,
          prefix: '',
          size: blob.size,
          sender: '',
          subject: kind === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)',
          source: 'dsn' as const,
          receivedAt: now,
          recipients: route.recipients.map((r) => ({ ...r, originalRecipient: notifyTo })),
          receivedDetail: { dsnFor: message.id, kind },
        },
      });
    }
    return notices;
  }
}
