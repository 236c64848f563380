// A message's envelope as IMAP describes it (RFC 9051 section 7.5.2): date, subject, the address
// fields and the message identifiers, taken from the header as written (encoded words are kept;
// clients decode them).
import addressparser from 'nodemailer/lib/addressparser';
import type { HeaderLine } from './mime-tree.ts';

/** An address: [display name, route, mailbox, host]; a group is opened by [null, null, name, null] and closed by all nulls. */
export type EnvelopeAddress = [string | null, null, string | null, string | null];

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export function parseEnvelope(headers: HeaderLine[]): Envelope {
  const field = (name: string) => headers.find(([n]) => n === name)?.[1] ?? null;
  const from = addresses(field('from'));
  return {
    date: field('date'),
    subject: field('subject'),
    from,
    // Sender and Reply-To default to From (RFC 9051).
    sender: addresses(field('sender')) ?? from,
    replyTo: addresses(field('reply-to')) ?? from,
    to: addresses(field('to')),
    cc: addresses(field('cc')),
    bcc: addresses(field('bcc')),
    inReplyTo: field('in-reply-to'),
    messageId: field('message-id'),
  };
}

function addresses(value: string | null): EnvelopeAddress[] | null {
  if (!value) return null;
  const out: EnvelopeAddress[] = [];
  const add = (entry: { name?: string; address?: string; group?: unknown[] }) => {
    if (entry.group) {
      out.push([null, null, entry.name || '', null]);
      for (const member of entry.group as (typeof entry)[]) add(member);
      out.push([null, null, null, null]);
      return;
    }
    const address = entry.address ?? '';
    // An empty entry (`G: <>;`) is no address at all; written as all NILs it would end a group early.
    if (!address && !entry.name) return;
    // A NIL host marks group syntax (RFC 3501 §7.4.2), so an address without a domain or mailbox gets
    // Dovecot's placeholders instead of NIL.
    const at = address.lastIndexOf('@');
    const mailbox = at >= 0 ? address.slice(0, at) : address;
    const host = at >= 0 ? address.slice(at + 1) : '';
    out.push([entry.name || null, null, mailbox || 'MISSING_MAILBOX', host || 'MISSING_DOMAIN']);
  };
  for (const entry of addressparser(value) as { name?: string; address?: string; group?: unknown[] }[]) add(entry);
  return out.length ? out : null;
}
