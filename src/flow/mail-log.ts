// The log lines a mail administrator greps, one per event of a message's walk: "mail received" when a
// message is committed to the queue, and "mail delivered" / "mail deferred" / "mail bounced" per
// recipient outcome (as Postfix's qmgr "from=<…>, size=…, nrcpt=…" and smtp/local "to=<…>, relay=…,
// delay=…, status=…" lines). Every field has one key with one meaning across all lines; the table in
// docs/operations.md ("Log lines") lists them. Lines are written after the commit that made the event
// true, never from inside a transaction that may still roll back or run again.
import type { Logger } from '../logging/logger.ts';
import type { NewMessage } from './queue/intake-committer.ts';
import type { Outcome } from './queue/queue.ts';

export type OutcomeStatus = 'delivered' | 'deferred' | 'bounced';

/** What SMTP intake records about its client in the "received" trace detail (intake.ts). */
interface ReceivedDetail {
  session?: string;
  helo?: string;
  auth?: string;
}

export function logReceived(log: Logger | undefined, queueId: number, message: NewMessage) {
  if (!log) return;
  const detail = message.receivedDetail as ReceivedDetail;
  log.info(
    {
      queueId,
      sender: message.sender,
      size: message.size,
      nrcpt: message.recipients.length,
      source: message.source,
      client: message.clientIp ?? undefined,
      helo: detail.helo,
      user: detail.auth,
      session: detail.session,
      messageId: message.messageId ?? undefined,
    },
    'mail received',
  );
}

export function logOutcomes(
  log: Logger | undefined,
  status: OutcomeStatus,
  outcomes: Outcome[],
  now: number,
  extra: (o: Outcome) => Record<string, unknown> = () => ({}),
) {
  if (!log) return;
  for (const o of outcomes) {
    const { recipient } = o;
    log.info(
      {
        queueId: recipient.messageId,
        recipient: recipient.recipient,
        originalRecipient:
          recipient.originalRecipient !== recipient.recipient ? recipient.originalRecipient : undefined,
        sender: recipient.message.sender,
        tenantId: recipient.tenantId ?? undefined,
        relay: o.remoteMta ?? (recipient.route === 'local' ? 'local' : undefined),
        reply: o.reply,
        delay: Math.max(0, now - recipient.message.receivedAt) / 1000,
        attempts: recipient.attempts + 1,
        status,
        ...extra(o),
      },
      `mail ${status}`,
    );
  }
}
