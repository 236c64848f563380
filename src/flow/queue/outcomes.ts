// Outcomes of delivery attempts: delivered (for local recipients, with the append into the INBOX in
// the same transaction), deferred on the retry schedule, or failed with a DSN. Each is written with
// its trace events in one transaction and only while the claimant still holds the lease
// (leases.ts), so a crash never leaves a half-recorded step and a late worker records nothing.
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../../config/schema.ts';
import { formatSize } from '../../config/size.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MailboxChange } from '../../mailbox/change-feed.ts';
import type { Principal } from '../../directory/directory.ts';
import { type DeliveredMessage, deliver } from '../../mailbox/delivery.ts';
import { deliverFiled, type Placement } from '../../mailbox/filed-delivery.ts';
import { replyCode, type Metrics } from '../../metrics/metrics.ts';
import { Batcher } from '../../store/batcher.ts';
import { groupCommit } from '../../store/commit-modes.ts';
import type { Database } from '../../store/schema.ts';
import { logOutcomes } from '../mail-log.ts';
import { writeTrace } from '../trace.ts';
import type { ClaimedRecipient, Outcome } from './claimed-recipient.ts';
import { endLeases, LeaseLostError, type LeaseDeps } from './leases.ts';
import type { Notices } from './notices.ts';

/**
 * When the expiry clock of each item (a recipient's domain, its message's arrival) starts; null: not
 * while it lasts. Continuity mode holds mail for an upstream in an event (continuity/held-expiry.ts,
 * wired in by server/start.ts); without one every clock starts at arrival.
 */
export type ExpiryClock = (items: { domain: string; receivedAt: number }[]) => Promise<(number | null)[]>;

export interface OutcomeDeps extends LeaseDeps {
  config: Pick<Config, 'queue' | 'continuity'>;
  expiryClock?: ExpiryClock;
  notices: Notices;
  /** Counts outcomes and delivery latency, when set. */
  metrics?: Metrics;
  /** Where each recipient's outcome is logged (mail-log.ts), when set. */
  log?: Logger;
}

/** A claimed local recipient and the mailbox its address resolved to. */
export interface LocalRecipient {
  recipient: ClaimedRecipient;
  mailbox: Principal;
  /**
   * Where the recipient's rules (Sieve) put the message, when they decided: the folders and flags
   * (none: not stored, e.g. discarded or only redirected). Absent: the INBOX (or Junk) as always.
   */
  filed?: {
    placements: Placement[];
    /** The message as the rules changed it (editheader), when they did. */
    content?: DeliveredMessage;
    /** What the delivered reply says when nothing is stored. */
    note: string;
  };
}

export interface LocalDeliveries {
  delivered: LocalRecipient[];
  changes: MailboxChange[];
}

export class Outcomes {
  private readonly db: Kysely<Database>;
  /** Deliveries that finish together share one transaction. */
  private readonly deliveries = new Batcher<Outcome[]>(async (batches) => {
    this.delivered(await groupCommit(this.db, (trx) => this.writeDelivered(trx, batches.flat())));
    return [];
  });

  constructor(private readonly deps: OutcomeDeps) {
    this.db = deps.db;
  }

  /** Records deliveries made elsewhere (remote); outcomes whose lease was lost meanwhile are dropped. */
  recordDelivered(outcomes: Outcome[]): Promise<void> {
    return this.deliveries.add(outcomes);
  }

  /**
   * Delivers to local mailboxes and records each delivery in the same transaction; a recipient whose
   * mailbox is over quota fails (552 5.2.2, with a DSN). Returns what went in and the changes to announce.
   */
  async deliverLocally(recipients: LocalRecipient[]): Promise<LocalDeliveries> {
    let result: LocalDeliveries & { refused: Outcome[] };
    try {
      result = await this.deliverBatch(recipients);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      // Some recipient of the batch was taken over by another worker: deliver the rest one by one.
      result = { delivered: [], changes: [], refused: [] };
      for (const one of recipients) {
        const single = await this.deliverBatch([one]).catch((e) =>
          e instanceof LeaseLostError ? undefined : Promise.reject(e),
        );
        result.delivered.push(...(single?.delivered ?? []));
        result.changes.push(...(single?.changes ?? []));
        result.refused.push(...(single?.refused ?? []));
      }
    }
    if (result.refused.length) await this.recordFailed(result.refused);
    return { delivered: result.delivered, changes: result.changes };
  }

  private async deliverBatch(recipients: LocalRecipient[]) {
    const now = this.deps.now();
    let outcomes: Outcome[] = [];
    let refused: Outcome[] = [];
    let delivered: LocalRecipient[] = [];
    const changes = await groupCommit(this.db, async (trx) => {
      // The transaction may run again (transient conflicts): nothing kept from an earlier run.
      outcomes = [];
      refused = [];
      delivered = [];
      const changes: MailboxChange[] = [];
      const deliveries = recipients.map(({ recipient, mailbox, filed }) => ({
        recipient: mailbox,
        message: filed?.content ?? recipient.message,
        key: `queue-recipient:${recipient.id}`,
        placements: filed?.placements ?? [],
      }));
      // A batch is filed by rules or delivered as always, never both (local-delivery.ts splits them).
      const filedBatch = recipients.some((r) => r.filed);
      const results = filedBatch ? await deliverFiled(trx, deliveries, now) : await deliver(trx, deliveries, now);
      results.forEach((result, i) => {
        const { recipient, mailbox, filed } = recipients[i]!;
        if (!result.delivered) {
          refused.push({
            recipient,
            reply: `552 5.2.2 <${recipient.recipient}>: mailbox full (quota ${formatSize(result.quotaBytes)})`,
          });
          return;
        }
        if ('placed' in result) {
          const where = result.placed.map((p) => `${p.folder} (uid ${p.uid})`).join(', ');
          outcomes.push({
            recipient,
            reply: `250 2.0.0 ${where ? `delivered to ${mailbox.address} ${where}` : filed!.note}`,
          });
          changes.push(...result.changes);
        } else {
          outcomes.push({ recipient, reply: `250 2.0.0 delivered to ${mailbox.address} INBOX (uid ${result.uid})` });
          if (result.change) changes.push(result.change);
        }
        delivered.push(recipients[i]!);
      });
      // A recipient whose lease is no longer ours rolls everything back, its append included.
      if ((await this.writeDelivered(trx, outcomes)).length < outcomes.length) throw new LeaseLostError();
      return changes;
    });
    this.delivered(outcomes);
    return { delivered, changes, refused };
  }

  /** Returns the outcomes recorded (the others had lost their lease). */
  private async writeDelivered(trx: Transaction<Database>, outcomes: Outcome[]): Promise<Outcome[]> {
    return endAttempts(trx, outcomes, 'delivered', 'delivered', this.deps.now());
  }

  /**
   * Counts and logs deliveries once they have committed: never from inside the transaction, which
   * PostgreSQL may end on a deadlock and run again.
   */
  private delivered(outcomes: Outcome[]) {
    this.count('delivered', outcomes);
    logOutcomes(this.deps.log, 'delivered', outcomes, this.deps.now());
  }

  private count(outcome: 'delivered' | 'deferred' | 'failed', outcomes: Outcome[]) {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const now = this.deps.now();
    for (const o of outcomes) {
      metrics.deliveryOutcomes.inc({ outcome, route: o.recipient.route, code: replyCode(o.reply) });
      if (outcome === 'delivered')
        metrics.deliveryLatency.observe(
          { route: o.recipient.route },
          Math.max(0, now - o.recipient.message.receivedAt) / 1000,
        );
    }
  }

  /**
   * Temporary failures: retry on the schedule, or fail with "expired" once the message is too old.
   * `notAttempted` is for mail that was not tried at all (its destination is known to be down): it
   * waits on the schedule without the attempt counting; retryDestination() releases it early when
   * the destination comes back. Mail held for a continuity upstream expires by its own clock
   * (`expiryClock`).
   */
  async recordDeferred(outcomes: Outcome[], notAttempted = false) {
    if (!notAttempted) this.count('deferred', outcomes);
    const now = this.deps.now();
    const { retryMs, expireMs } = this.deps.config.queue;
    const expired = await this.expired(
      outcomes.filter((o) => now - o.recipient.message.receivedAt >= expireMs),
      now,
    );
    const retried = outcomes.filter((o) => !expired.includes(o));
    if (retried.length) {
      const retryAt = new Map<Outcome, number>();
      const deferred = await groupCommit(this.db, async (trx) => {
        const applied = await endLeases(trx, retried, 'deferred', now, (o) => {
          const attempts = o.recipient.attempts + (notAttempted ? 0 : 1);
          const delay = retryMs[Math.min(Math.max(attempts - 1, 0), retryMs.length - 1)]!;
          retryAt.set(o, now + delay);
          return notAttempted
            ? { lastReply: o.reply, nextAttemptAt: now + delay }
            : { lastReply: o.reply, attempts, lastAttemptAt: now, nextAttemptAt: now + delay };
        });
        await writeTrace(
          trx,
          applied.map((o) => ({
            messageId: o.recipient.messageId,
            recipientId: o.recipient.id,
            event: 'deferred' as const,
            at: now,
            detail: {
              recipient: o.recipient.recipient,
              reply: o.reply,
              remoteMta: o.remoteMta,
              attempt: o.recipient.attempts + 1,
            },
          })),
        );
        return applied;
      });
      logOutcomes(this.deps.log, 'deferred', deferred, now, (o) => ({
        nextAttempt: new Date(retryAt.get(o)!).toISOString(),
        ...(notAttempted ? { attempts: o.recipient.attempts, attempted: false } : {}),
      }));
    }
    if (expired.length) {
      await this.recordFailed(
        expired.map((o) => ({
          ...o,
          reply: `${o.reply} (message expired after ${Math.round(expireMs / 3_600_000)} hours in the queue)`,
        })),
        'expired',
      );
    }
  }

  /** Of the outcomes past `queue.expire` since their arrival, those that expire (not held for an upstream). */
  private async expired(outcomes: Outcome[], now: number): Promise<Outcome[]> {
    const clock = this.deps.expiryClock;
    if (outcomes.length === 0 || !clock) return outcomes;
    const starts = await clock(
      outcomes.map((o) => ({ domain: o.recipient.domain, receivedAt: o.recipient.message.receivedAt })),
    );
    return outcomes.filter((_, i) => starts[i] !== null && now - starts[i]! >= this.deps.config.queue.expireMs);
  }

  /** Permanent failures: the recipient fails and the sender gets a DSN, in one transaction. */
  async recordFailed(outcomes: Outcome[], event: 'bounced' | 'expired' = 'bounced') {
    this.count('failed', outcomes);
    const now = this.deps.now();
    const dsns = await this.deps.notices.prepare(outcomes, 'failed');
    const { applied, notices } = await groupCommit(this.db, async (trx) => {
      const applied = await endAttempts(trx, outcomes, 'failed', event, now);
      const appliedMessages = new Set(applied.map((o) => o.recipient.messageId));
      return {
        applied,
        notices: await this.deps.notices.queue(
          trx,
          dsns.filter((dsn) => appliedMessages.has(dsn.dsnFor)),
        ),
      };
    });
    this.deps.notices.logQueued(notices);
    logOutcomes(this.deps.log, 'bounced', applied, now, (o) => ({
      expired: event === 'expired' || undefined,
      dsnQueueId: notices.find((n) => n.dsnFor === o.recipient.messageId)?.queueId,
    }));
  }
}

/**
 * Ends the attempts whose leases are still the claimant's with their final state and reply, and
 * traces each; returns those (the others were taken over and are left alone).
 */
async function endAttempts(
  trx: Transaction<Database>,
  outcomes: Outcome[],
  state: 'delivered' | 'failed',
  event: 'delivered' | 'bounced' | 'expired',
  now: number,
): Promise<Outcome[]> {
  const applied = await endLeases(trx, outcomes, state, now, (o) => ({
    lastReply: o.reply,
    attempts: o.recipient.attempts + 1,
    lastAttemptAt: now,
  }));
  await writeTrace(
    trx,
    applied.map((o) => ({
      messageId: o.recipient.messageId,
      recipientId: o.recipient.id,
      event,
      at: now,
      detail: { recipient: o.recipient.recipient, reply: o.reply, remoteMta: o.remoteMta },
    })),
  );
  return applied;
}
