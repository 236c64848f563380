// A message's envelope as IMAP describes it (RFC 9051 section 7.5.2): date, subject, the address
// fields and the message identifiers, taken from the header as written (encoded words are kept;
// clients decode them).
//
// Address lists are read as RFC 5322 §3.4 writes them, and broken ones as Dovecot (the reference
// server) reads them, so that clients see the same addresses from either: a display name is the
// phrase before <...>, or a comment after a bare address (`user@host (Name)`), never a comment
// before it; a word without "@" is a mailbox without a domain; a missing mailbox or domain is
// MISSING_MAILBOX / MISSING_DOMAIN, never NIL, since a NIL host marks group syntax (RFC 3501 §7.4.2).
import { HeaderScanner } from './header-scanner.ts';
import type { HeaderLine } from './mime-tree.ts';

/** An address: [display name, route, mailbox, host]; a group is opened by [null, null, name, null] and closed by all nulls. */
export type EnvelopeAddress = [name: string | null, route: string | null, mailbox: string | null, host: string | null];

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

/**
 * The envelope of a header. A field given more than once (RFC 5322 allows one) is read as Dovecot
 * reads it: the last Date, Subject, In-Reply-To and Message-ID, the addresses of every From, To...
 */
export function parseEnvelope(headers: HeaderLine[]): Envelope {
  const text = (name: string) => headers.reduce<string | null>((last, [n, value]) => (n === name ? value : last), null);
  const addresses = (name: string) => {
    const all = headers.flatMap(([n, value]) => (n === name ? (addressList(value) ?? []) : []));
    return all.length ? all : null;
  };
  const from = addresses('from');
  return {
    date: text('date'),
    subject: text('subject'),
    from,
    // Sender and Reply-To default to From (RFC 9051).
    sender: addresses('sender') ?? from,
    replyTo: addresses('reply-to') ?? from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: text('in-reply-to'),
    messageId: text('message-id'),
  };
}

/** The addresses of an address field (RFC 5322 address-list), or null for none. */
export function addressList(value: string | null): EnvelopeAddress[] | null {
  if (value === null) return null;
  const scanner = new HeaderScanner(value);
  const out: EnvelopeAddress[] = [];
  scanner.skipCfws();
  while (!scanner.atEnd) {
    if (!group(scanner, out)) mailbox(scanner, out);
    // Whatever follows an address other than a comma ends the list.
    if (scanner.peek() !== ',') break;
    scanner.at++;
    if (!scanner.skipCfws()) out.push(missing({}));
  }
  return out.length ? out : null;
}

/** An address as read, before placeholders: undefined or null where a part is missing. */
type Parsed = { name?: string | null; route?: string | null; mailbox?: string | null; host?: string | null };

/** A missing mailbox or domain gets Dovecot's placeholder: NIL would read as group syntax. */
function missing(address: Parsed): EnvelopeAddress {
  return [
    address.name ?? null,
    address.route ?? null,
    address.mailbox ?? 'MISSING_MAILBOX',
    address.host || 'MISSING_DOMAIN',
  ];
}

/** `name: mailbox, mailbox;` as group start, members and group end; false (nothing read) if not a group. */
function group(scanner: HeaderScanner, out: EnvelopeAddress[]): boolean {
  const start = scanner.at;
  const name = scanner.phrase();
  if (name === undefined || scanner.peek() !== ':') {
    scanner.at = start;
    return false;
  }
  scanner.at++;
  out.push([null, null, name, null]);
  scanner.skipCfws();
  if (!scanner.atEnd && scanner.peek() !== ';') {
    for (;;) {
      mailbox(scanner, out);
      if (scanner.peek() !== ',') break;
      scanner.at++;
      scanner.skipCfws();
      if (scanner.atEnd) break;
    }
  }
  if (scanner.peek() === ';') {
    scanner.at++;
    scanner.skipCfws();
  }
  out.push([null, null, null, null]);
  return true;
}

/** A mailbox: `phrase <[@route:]local@domain>` or `local@domain [(comment)]`. */
function mailbox(scanner: HeaderScanner, out: EnvelopeAddress[]) {
  const start = scanner.at;
  const named = nameAddress(scanner);
  if (named) {
    out.push(missing(named));
    return;
  }
  scanner.at = start; // not a name-addr: read it again as an addr-spec
  out.push(missing(addressSpec(scanner)));
}

function nameAddress(scanner: HeaderScanner): Parsed | undefined {
  const name = scanner.phrase();
  if (name === undefined || scanner.peek() !== '<') return undefined;
  const address: Parsed = { name: name || null };
  scanner.at++;
  // A broken address inside <...> keeps what was read and says so in its host.
  if (!angleAddress(scanner, address)) address.host = 'SYNTAX_ERROR';
  return address;
}

function angleAddress(scanner: HeaderScanner, address: Parsed): boolean {
  if (!scanner.skipCfws() || scanner.atEnd) return false;
  if (scanner.peek() === '@') {
    // An obsolete source route: @a,@b:
    const hops: string[] = [];
    while (scanner.peek() === '@') {
      const hop = scanner.domain();
      if (hop === undefined) break;
      hops.push(`@${hop}`);
      while (scanner.peek() === ',') {
        scanner.at++;
        scanner.skipCfws();
      }
    }
    if (scanner.peek() === ':') scanner.at++;
    else address.route = 'INVALID_ROUTE';
    if (hops.length && !address.route) address.route = hops.join(',');
    if (scanner.atEnd) return false;
    scanner.skipCfws();
  }
  // <> has neither mailbox nor domain.
  if (scanner.peek() !== '>') {
    const local = localPart(scanner);
    if (local === undefined) return false;
    address.mailbox = local;
    if (scanner.peek() === '@') {
      const host = scanner.domain();
      if (host === undefined) return false;
      address.host = host;
    }
  }
  if (scanner.peek() !== '>') return false;
  scanner.at++;
  scanner.skipCfws();
  return true;
}

function localPart(scanner: HeaderScanner): string | undefined {
  return scanner.peek() === '"' ? scanner.quotedString() : scanner.dotAtom();
}

function addressSpec(scanner: HeaderScanner): Parsed {
  scanner.lastComment = '';
  const quoted = scanner.peek() === '"';
  const address: Parsed = { mailbox: localPart(scanner) };
  let domainTried = false;
  if (scanner.peek() === '@') {
    domainTried = true;
    address.host = scanner.domain();
  }
  if (scanner.lastComment) address.name = scanner.lastComment;
  else if (!domainTried) {
    // One word without "@" is a mailbox without a domain; more words are a name without an address.
    const rest = scanner.phrase();
    if (rest) {
      address.name = `${address.mailbox ?? ''} ${rest}`;
      address.mailbox = null;
    } else if (quoted && address.mailbox !== undefined) {
      address.name = address.mailbox;
      address.mailbox = null;
    }
  }
  return address;
}
