// What administrators do with the queue: look at it (filtered by tenant, destination domain and
// state), and act on messages: retry now, hold, release, bounce. Every action leaves a trace event.
import type { Kysely } from 'kysely';
import { invalid, notFound } from '../../errors.ts';
import type { Database, RecipientState } from '../../store/schema.ts';
import { writeTrace } from '../trace.ts';
import type { Queue } from './queue.ts';
import { queueStates } from './queue.ts';

export interface QueueFilter {
  tenantId?: number;
  domain?: string;
  state?: RecipientState;
  /** Include delivered and failed recipients (default: only those still waiting or in flight). */
  all?: boolean;
}

export interface QueueEntry {
  messageId: number;
  recipientId: number;
  sender: string;
  recipient: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  held: boolean;
  receivedAt: number;
  nextAttemptAt: number | null;
  lastReply: string | null;
  size: number;
  subject: string | null;
}

export class QueueAdmin {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly queue: Queue,
    private readonly now: () => number,
  ) {}

  async list(filter: QueueFilter = {}, limit = 1000): Promise<QueueEntry[]> {
    if (filter.state && !queueStates.includes(filter.state)) {
      throw invalid(
        'invalid-option',
        `--state = "${filter.state}" is not allowed: expected one of ${queueStates.join(', ')}`,
      );
    }
    let query = this.db
      .selectFrom('queue_recipients as r')
      .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
      .select([
        'r.message_id as messageId',
        'r.id as recipientId',
        'm.sender',
        'r.recipient',
        'r.domain',
        'r.state',
        'r.attempts',
        'm.held',
        'm.received_at as receivedAt',
        'r.next_attempt_at as nextAttemptAt',
        'r.last_reply as lastReply',
        'm.size',
        'm.subject',
      ]);
    if (filter.tenantId !== undefined) query = query.where('r.tenant_id', '=', filter.tenantId);
    if (filter.domain) query = query.where('r.domain', '=', filter.domain.toLowerCase());
    if (filter.state) query = query.where('r.state', '=', filter.state);
    else if (!filter.all) query = query.where('r.state', 'in', ['queued', 'inflight', 'deferred']);
    const rows = await query.orderBy('r.message_id').orderBy('r.id').limit(limit).execute();
    return rows.map((r) => ({
      ...r,
      held: Boolean(r.held),
      attempts: Number(r.attempts),
      nextAttemptAt: r.state === 'queued' || r.state === 'deferred' ? r.nextAttemptAt : null,
      size: Number(r.size),
    }));
  }

  async show(messageId: number) {
    const message = await this.db
      .selectFrom('queue_messages')
      .selectAll()
      .where('id', '=', messageId)
      .executeTakeFirst();
    if (!message) throw notFound('unknown-message', `no message ${messageId} in the queue`);
    const recipients = await this.list({ all: true }).then((all) => all.filter((r) => r.messageId === messageId));
    const trace = await this.db
      .selectFrom('trace_events')
      .selectAll()
      .where('message_id', '=', messageId)
      .orderBy('at')
      .orderBy('id')
      .execute();
    return {
      id: message.id,
      sender: message.sender,
      subject: message.subject,
      messageIdHeader: message.message_id,
      size: Number(message.size),
      source: message.source,
      clientIp: message.client_ip,
      held: Boolean(message.held),
      receivedAt: Number(message.received_at),
      recipients,
      trace: trace.map((e) => ({
        at: Number(e.at),
        event: e.event,
        recipientId: e.recipient_id,
        ...JSON.parse(e.detail),
      })),
    };
  }

  async hold(messageId: number) {
    await this.setHeld(messageId, true);
  }

  async release(messageId: number) {
    await this.setHeld(messageId, false);
  }

  /** Makes waiting recipients due now (one message, or every message for a domain). */
  async retry(target: { messageId?: number; domain?: string }): Promise<number> {
    const now = this.now();
    let query = this.db
      .updateTable('queue_recipients')
      .set({ next_attempt_at: now, updated_at: now })
      .where('state', 'in', ['queued', 'deferred']);
    if (target.messageId !== undefined)
      query = query.where('message_id', '=', await this.requireMessage(target.messageId));
    else if (target.domain) query = query.where('domain', '=', target.domain.toLowerCase());
    else throw invalid('invalid-option', 'give a message id or --domain');
    const result = await query.executeTakeFirst();
    const count = Number(result.numUpdatedRows);
    if (target.messageId !== undefined)
      await writeTrace(this.db, [
        { messageId: target.messageId, event: 'retry', at: now, detail: { by: 'administrator' } },
      ]);
    return count;
  }

  /** Fails every recipient still waiting, with a DSN to the sender. In-flight ones finish first. */
  async bounce(messageId: number): Promise<number> {
    await this.requireMessage(messageId);
    const waiting = (await this.list({})).filter((r) => r.messageId === messageId && r.state !== 'inflight');
    if (waiting.length === 0) return 0;
    const claimed = await this.queue.loadRecipients(waiting.map((r) => r.recipientId));
    await this.queue.recordFailed(
      claimed.map((recipient) => ({
        recipient,
        reply: '550 5.3.0 message removed from the queue by the administrator',
      })),
    );
    return claimed.length;
  }

  private async setHeld(messageId: number, held: boolean) {
    await this.requireMessage(messageId);
    await this.db
      .updateTable('queue_messages')
      .set({ held: held ? 1 : 0 })
      .where('id', '=', messageId)
      .execute();
    await writeTrace(this.db, [
      { messageId, event: held ? 'held' : 'released', at: this.now(), detail: { by: 'administrator' } },
    ]);
  }

  private async requireMessage(messageId: number): Promise<number> {
    if (!Number.isInteger(messageId)) throw invalid('invalid-option', `"${messageId}" is not a message id`);
    const row = await this.db.selectFrom('queue_messages').select('id').where('id', '=', messageId).executeTakeFirst();
    if (!row) throw notFound('unknown-message', `no message ${messageId} in the queue`);
    return row.id;
  }
}
