// Delivery status notifications (RFC 3464): a multipart/report telling the sender which recipients
// failed or are delayed, and why. Never sent for a message with the null sender.
import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { rfc5322Date } from '../../message/headers.ts';
import { openStoredMessage, readHeaderSection, type StoredMessageRef } from '../../message/stored-message.ts';

export interface DsnRecipient {
  recipient: string;
  orcpt: string | null;
  /** The reply that decided it, e.g. "550 5.1.1 <x@y>: no such user". */
  reply: string | null;
  remoteMta?: string | null;
  lastAttemptAt: number | null;
}

export interface DsnInput {
  kind: 'failed' | 'delayed';
  hostname: string;
  sender: string;
  original: StoredMessageRef & { envid: string | null; ret: string | null; receivedAt: number };
  recipients: DsnRecipient[];
  /** For delay notices: until when delivery is retried. */
  retryUntil?: number;
  now: number;
}

/** The enhanced status code in a reply, or a generic one for its class. */
export function statusOf(reply: string | null, kind: 'failed' | 'delayed'): string {
  const match = reply && /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (match) return match[1]!;
  return kind === 'failed' ? '5.0.0' : '4.0.0';
}

export async function* buildDsn(blobs: BlobStore, input: DsnInput): AsyncIterable<Uint8Array> {
  const boundary = `=_holdfast_${randomUUID()}`;
  const date = rfc5322Date;
  const failed = input.kind === 'failed';
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const human = failed
    ? 'Your message could not be delivered to the following recipients. This is a permanent error; it will not be retried.'
    : `Your message has not been delivered yet to the following recipients. Holdfast keeps trying until ${date(input.retryUntil ?? input.now)}; you do not need to send it again.`;
  const lines = (values: string[]) => values.join('\r\n');

  yield Buffer.from(
    lines([
      `From: Mail Delivery System <MAILER-DAEMON@${input.hostname}>`,
      `To: <${input.sender}>`,
      `Subject: ${subject}`,
      `Date: ${date(input.now)}`,
      `Message-ID: <${randomUUID()}@${input.hostname}>`,
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      human,
      '',
      ...input.recipients.map(
        (r) => `  <${r.recipient}>: ${r.reply ?? (failed ? 'delivery failed' : 'not delivered yet')}`,
      ),
      '',
      `--${boundary}`,
      'Content-Type: message/delivery-status',
      '',
      `Reporting-MTA: dns; ${input.hostname}`,
      ...(input.original.envid ? [`Original-Envelope-Id: ${input.original.envid}`] : []),
      `Arrival-Date: ${date(input.original.receivedAt)}`,
      '',
      ...input.recipients.flatMap((r) => [
        `Final-Recipient: rfc822; ${r.recipient}`,
        ...(r.orcpt ? [`Original-Recipient: ${r.orcpt.includes(';') ? r.orcpt : `rfc822; ${r.orcpt}`}`] : []),
        `Action: ${input.kind}`,
        `Status: ${statusOf(r.reply, input.kind)}`,
        ...(r.remoteMta ? [`Remote-MTA: dns; ${r.remoteMta}`] : []),
        ...(r.reply ? [`Diagnostic-Code: smtp; ${r.reply.replace(/\r?\n/g, ' ')}`] : []),
        ...(r.lastAttemptAt ? [`Last-Attempt-Date: ${date(r.lastAttemptAt)}`] : []),
        ...(!failed && input.retryUntil ? [`Will-Retry-Until: ${date(input.retryUntil)}`] : []),
        '',
      ]),
      `--${boundary}`,
      '',
    ]),
  );

  if (input.original.ret === 'FULL') {
    yield Buffer.from('Content-Type: message/rfc822\r\n\r\n');
    yield* openStoredMessage(blobs, input.original);
  } else {
    yield Buffer.from('Content-Type: text/rfc822-headers\r\n\r\n');
    yield Buffer.from(await readHeaderSection(blobs, input.original));
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** Whether the sender asked (or by default gets) a notice of this kind for a recipient. */
export function wantsNotice(notify: string | null, kind: 'failed' | 'delayed'): boolean {
  if (!notify) return true; // RFC 3461: default is FAILURE (and DELAY at the MTA's discretion)
  const values = notify.toUpperCase().split(',');
  if (values.includes('NEVER')) return false;
  return values.includes(kind === 'failed' ? 'FAILURE' : 'DELAY');
}
