// iMIP (RFC 6047): calendar scheduling messages leave as ordinary mail through the queue, with the
// iCalendar in a text/calendar part (method=REQUEST, REPLY or CANCEL) beside a readable text. Each is
// mail its organizer or attendee sends: it draws on their sending limits like mail they submit.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Directory, Principal } from '../directory/directory.ts';
import { forbidden } from '../errors.ts';
import type { ImipMessage } from '../calendar/scheduling/scheduler.ts';
import type { Config } from '../config/schema.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import type { MailFlow } from './mail-flow.ts';
import { dkimSignature } from './dkim-sign.ts';
import { routeRecipient, upstreamDomainsOf } from './router.ts';
import type { SenderLimits } from './sender-limits.ts';

export interface ImipSenderDeps {
  config: Config;
  directory: Directory;
  blobs: BlobStore;
  flow: MailFlow;
  now(): number;
}

export function createImipSender(deps: ImipSenderDeps): (message: ImipMessage) => Promise<void> {
  return async (message) => {
    const mail = new MailComposer({
      from: message.fromName ? { name: message.fromName, address: message.from } : message.from,
      to: message.to,
      subject: message.subject,
      text: `${message.text}\n`,
      icalEvent: { method: message.method, content: message.calendar, filename: 'invite.ics' },
      messageId: `<imip-${deps.now()}-${Math.random().toString(36).slice(2)}@${deps.config.hostname}>`,
      date: new Date(deps.now()),
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
    const unsigned = await mail.compile().build();
    const sender = await deps.directory.resolveAddress(message.from);
    // Signed like mail the user submits, so the recipients' DMARC checks pass.
    const source = Buffer.concat([
      Buffer.from(await dkimSignature(deps.flow.dkim, message.from.split('@')[1]!, unsigned, deps.now())),
      unsigned,
    ]);
    const recipients = [];
    // A continuity user's invitation goes to the upstream with the rest of their mail (docs/continuity.md).
    const upstreamDomains = upstreamDomainsOf(deps.config.continuity);
    for (const to of message.to) {
      const route = await routeRecipient(deps.directory, to, sender?.tenantId ?? null, undefined, upstreamDomains);
      if (route.kind === 'unknown') throw new Error(`no mailbox ${to} to send the ${message.method} to`);
      recipients.push(...route.recipients.map((r) => ({ ...r, originalRecipient: to })));
    }
    const blob = await deps.blobs.put(source);
    await deps.flow.committer.submit({
      blobHash: blob.hash,
      prefix: '',
      size: blob.size,
      sender: message.from,
      messageId: null,
      subject: message.subject.slice(0, 500),
      source: 'submission',
      // A notice to colleagues is server mail: it does not draw on the sender's limits.
      authPrincipalId: message.notice ? null : (sender?.principal.id ?? null),
      // Written here for the principal it is from: delivery to a local calendar may trust its author.
      verifiedFrom: message.from,
      receivedAt: deps.now(),
      recipients,
      receivedDetail: { source: 'calendar', imip: message.method },
    });
  };
}

/**
 * The check the scheduler makes before a change that mails `recipients` people: the same limits as
 * SMTP submission (messages a minute, recipients a day). Refused, the change is not stored and
 * nothing is sent; the user saves again later.
 */
export function createImipLimitCheck(limits: SenderLimits): (from: Principal, recipients: number) => Promise<void> {
  return async (from, recipients) => {
    const refusal = (await limits.messageRefusal(from)) ?? (await limits.recipientRefusal(from, 0, recipients));
    if (!refusal) return;
    const mail = `${recipients} ${recipients === 1 ? 'recipient' : 'recipients'}`;
    throw forbidden(
      'sending-limit',
      `${refusal.text}. This change would send calendar mail to ${mail}; it was not saved and nothing was sent`,
    );
  };
}
