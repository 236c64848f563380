// Sending a stored message as a signed-in user without SMTP (JMAP EmailSubmission): the steps of SMTP
// submission (intake.ts) in one call, with the same rules and the same queue — the envelope sender
// and the From field must be addresses the user may send as (sender-checks.ts), the per-user limits
// apply (messages a minute, recipients a day, recipients a message, message size: sender-limits.ts),
// recipients are routed as RCPT routes them, Bcc and Return-Path leave the message, Message-ID and
// Date are added when missing, mail from one of the tenant's domains is DKIM-signed, and the message
// is committed to the queue (which delivers it locally or remotely) before the call answers.
// A refusal says which rule, in the terms of RFC 8621 7.5 (the caller's SetError types).
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { formatSize } from '../config/size.ts';
import type { Directory, Principal } from '../directory/directory.ts';
import { parseAddress } from '../directory/names.ts';
import { dropHeaderFields, headerAddresses, headerValue, parseHeaderSection, rfc5322Date } from '../message/headers.ts';
import { openStoredMessage, readHeaderSection, type StoredMessageRef } from '../message/stored-message.ts';
import { computeMetadata } from '../mailbox/message-metadata.ts';
import type { Store } from '../store/store.ts';
import { dkimSignature } from './dkim-sign.ts';
import { filterMessage, type RewrittenContent } from '../filtering/filter-message.ts';
import { pausedRefusal } from '../filtering/outbound-spam.ts';
import type { FilterRefusal } from '../filtering/verdict.ts';
import type { Logger } from '../logging/logger.ts';
import { withTenantDisclaimer } from './intake/disclaimer.ts';
import { MessageTooLarge, spoolMessage } from './intake/spool.ts';
import type { MailFlow } from './mail-flow.ts';
import type { NewRecipient } from './queue/intake-committer.ts';
import { routeRecipient, upstreamDomainsOf } from './router.ts';
import { checkAuthor, maySendFrom, sendAsRefusal } from './sender-checks.ts';

export interface LocalSubmissionDeps {
  config: Config;
  store: Store;
  directory: Directory;
  flow: Pick<MailFlow, 'committer' | 'dkim' | 'senderLimits' | 'filter'>;
  logger?: Logger;
  now(): number;
}

export interface SubmissionEnvelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface LocalSubmission {
  principal: Principal;
  /** The message as stored in the user's mailbox. */
  message: StoredMessageRef;
  /** The SMTP envelope; without one it is made from the header (Sender or From; To, Cc and Bcc). */
  envelope?: SubmissionEnvelope;
  /** Who sent it, for the Received field and the trace: the client's address and how it came. */
  client: { ip: string; protocol: string; via: string };
}

/** Why a submission is refused, as RFC 8621 7.5 names it. */
export type SubmissionRefusal =
  | { type: 'invalidEmail'; description: string }
  | { type: 'tooLarge'; description: string; maxSize: number }
  | { type: 'tooManyRecipients'; description: string; maxRecipients: number }
  | { type: 'noRecipients'; description: string }
  | { type: 'invalidRecipients'; description: string; invalidRecipients: string[] }
  | { type: 'forbiddenMailFrom'; description: string }
  | { type: 'forbiddenFrom'; description: string }
  | { type: 'forbiddenToSend'; description: string }
  /** Not sent for now (the spam filter could not scan it, or deferred it): the same may succeed later. */
  | { type: 'serverUnavailable'; description: string };

export type SubmissionOutcome =
  /**
   * `queueId`: the queue entry of its copies (0 when the spam filter held every copy in quarantine);
   * `junkQueueId`: the entry of the copies it sent to local recipients' Junk, when it split them.
   */
  | { ok: true; queueId: number; junkQueueId?: number; envelope: SubmissionEnvelope; sentAt: number }
  | { ok: false; refusal: SubmissionRefusal };

/** Header fields that never leave with the message (Bcc: RFC 5322 3.6.3; Return-Path: intake.ts). */
const droppedOnSend: ReadonlySet<string> = new Set(['bcc', 'return-path']);

export async function submitStoredMessage(
  deps: LocalSubmissionDeps,
  request: LocalSubmission,
): Promise<SubmissionOutcome> {
  const { config, store, directory, flow } = deps;
  const { principal, client } = request;
  const refuse = (refusal: SubmissionRefusal): SubmissionOutcome => ({ ok: false, refusal });

  // The header section, as intake checks it.
  const section = await readHeaderSection(store.blobs, request.message, config.smtp.maxHeaderSize + 1);
  if (Buffer.byteLength(section) > config.smtp.maxHeaderSize)
    return refuse({
      type: 'invalidEmail',
      description: `The header section is larger than the fixed maximum (${config.smtp.maxHeaderSize} bytes)`,
    });
  const fields = parseHeaderSection(section);
  const received = fields.filter((f) => f.name === 'received').length;
  if (received > config.smtp.maxReceivedHeaders)
    return refuse({
      type: 'invalidEmail',
      description: `The message has passed ${received} mail servers (more than ${config.smtp.maxReceivedHeaders}): a loop`,
    });
  const author = await checkAuthor(directory, principal, fields);
  if ('refusal' in author)
    return refuse({
      type: author.refusal.kind === 'malformed' ? 'invalidEmail' : 'forbiddenFrom',
      description: author.refusal.text,
    });

  // The envelope: given, or from the header.
  const envelope = request.envelope ?? {
    mailFrom: headerAddresses(headerValue(fields, 'sender'))[0] ?? author.author ?? principal.address,
    rcptTo: [
      ...new Set(
        ['to', 'cc', 'bcc'].flatMap((name) =>
          fields.filter((f) => f.name === name).flatMap((f) => headerAddresses(f.value)),
        ),
      ),
    ],
  };
  if (!envelope.mailFrom)
    return refuse({ type: 'forbiddenMailFrom', description: 'A null sender is not allowed on submission' });
  if (!(await maySendFrom(directory, principal, envelope.mailFrom)))
    return refuse({ type: 'forbiddenMailFrom', description: sendAsRefusal(principal, envelope.mailFrom) });

  // A user whose submitted mail was taken for spam too often sends nothing, by any door, until an
  // administrator resumes them (filtering/outbound-spam.ts).
  const paused = await pausedRefusal(store.db, principal);
  if (paused) return refuse({ type: 'forbiddenToSend', description: paused });
  const limits = await flow.senderLimits.of(principal);
  const messageRefusal = await flow.senderLimits.messageRefusal(principal);
  if (messageRefusal) return refuse({ type: 'forbiddenToSend', description: messageRefusal.text });
  if (envelope.rcptTo.length === 0)
    return refuse({ type: 'noRecipients', description: 'The message has no recipients (To, Cc, Bcc or an envelope)' });
  if (envelope.rcptTo.length > limits.maxRecipients)
    return refuse({
      type: 'tooManyRecipients',
      description: `Too many recipients (at most ${limits.maxRecipients} per message); send the rest in another message`,
      maxRecipients: limits.maxRecipients,
    });
  const recipientRefusal = await flow.senderLimits.recipientRefusal(principal, 0, envelope.rcptTo.length);
  if (recipientRefusal) return refuse({ type: 'forbiddenToSend', description: recipientRefusal.text });

  // Each recipient routed as RCPT routes it.
  const upstreamDomains = upstreamDomainsOf(config.continuity);
  const invalid: string[] = [];
  const routed: NewRecipient[] = [];
  for (const address of envelope.rcptTo) {
    let parsed: string;
    try {
      parsed = parseAddress(address).asGiven;
    } catch {
      invalid.push(address);
      continue;
    }
    const route = await routeRecipient(directory.routing, parsed, principal.tenantId, config.hostname, upstreamDomains);
    if (route.kind === 'unknown') {
      invalid.push(address);
      continue;
    }
    routed.push(...route.recipients.map((r) => ({ ...r, originalRecipient: parsed, principal: undefined })));
  }
  if (invalid.length)
    return refuse({
      type: 'invalidRecipients',
      description: `No such recipient here, or not an address: ${invalid.join(', ')}`,
      invalidRecipients: invalid,
    });

  // The content, without Bcc, spooled as intake spools it (bounded by the size limit).
  const maxBytes = Math.min(config.smtp.maxMessageSize, limits.maxMessageSize);
  let spooled: Awaited<ReturnType<typeof spoolMessage>>;
  try {
    spooled = await spoolMessage(
      dropHeaderFields(openStoredMessage(store.blobs, request.message), droppedOnSend, config.smtp.maxHeaderSize),
      store.blobs,
      maxBytes,
    );
  } catch (error) {
    if (!(error instanceof MessageTooLarge)) throw error;
    return refuse({
      type: 'tooLarge',
      description: `The message is larger than the maximum message size (${formatSize(maxBytes)})`,
      maxSize: maxBytes,
    });
  }

  // The organisation's disclaimer, as on SMTP submission, before the DKIM signature that covers it.
  spooled = await withTenantDisclaimer(store, principal.tenantId, spooled);
  const now = deps.now();
  const added: string[] = [];
  if (!headerValue(fields, 'message-id')) added.push(`Message-ID: <${randomUUID()}@${config.hostname}>`);
  if (!headerValue(fields, 'date')) added.push(`Date: ${rfc5322Date(now)}`);
  let prefix = added.map((h) => `${h}\r\n`).join('');
  // Signed when the From domain is one of the sender's tenant's, as intake signs submissions.
  const fromDomain = (author.author ?? envelope.mailFrom).split('@')[1];
  const owner = fromDomain ? await directory.routing.findDomain(fromDomain) : undefined;
  if (owner && owner.tenantId === principal.tenantId) {
    const content = spooled.inline
      ? Buffer.concat([Buffer.from(prefix), spooled.inline.data])
      : Readable.from(
          (async function* () {
            yield Buffer.from(prefix);
            yield* spooled.open();
          })(),
          { objectMode: false },
        );
    prefix = (await dkimSignature(flow.dkim, fromDomain!, content, now)) + prefix;
  }
  const id = `jmap-${randomUUID()}`;
  const forClause = envelope.rcptTo.length === 1 ? `\r\n\tfor <${envelope.rcptTo[0]}>` : '';
  prefix = `Received: from [${client.ip}] (${client.via})\r\n\tby ${config.hostname} (Holdfast) with ${client.protocol} id ${id}${forClause};\r\n\t${rfc5322Date(now)}\r\n${prefix}`;

  let recipients = onceEach(routed);
  const messageId = headerValue(fields, 'message-id') ?? /^Message-ID: (.*)$/m.exec(prefix)?.[1] ?? null;
  const subject = headerValue(fields, 'subject')?.slice(0, 500) ?? null;
  // Scanned for spam and malware as SMTP submission is (filtering/filter-message.ts): spam is a
  // strike against the user, malware and rspamd's reject refuse it, and local copies go where the
  // verdict puts them.
  let junk: NewRecipient[] = [];
  let junkPrefix = prefix;
  let junkContent: RewrittenContent | undefined;
  if (flow.filter?.appliesTo('submission')) {
    const filtered = await filterMessage(
      flow.filter,
      { store, routing: directory.routing, log: deps.logger?.child({ component: 'filtering' }) },
      {
        prefix,
        message: { hash: spooled.blob.hash, size: spooled.blob.size, data: spooled.inline?.data },
        envelope: {
          clientIp: client.ip,
          sender: envelope.mailFrom,
          recipients: recipients.map((r) => r.recipient),
          user: principal.address,
          queueId: id,
        },
        recipients,
        submittedBy: { principalId: principal.id, tenantId: principal.tenantId, address: principal.address },
        subject,
        messageId,
        now,
      },
    );
    if (filtered.refusal) return refuse(refusalOf(filtered.refusal));
    ({ prefix, junkPrefix, inbox: recipients, junk, junkContent } = filtered);
  }

  const commit = (copies: NewRecipient[], prefix: string, content?: RewrittenContent) => {
    const blob = content?.blob ?? spooled.blob;
    const inline = content ? content.inline : spooled.inline;
    return flow.committer.submit({
      blobHash: blob.hash,
      inlineBlob: inline,
      prefix,
      size: blob.size + Buffer.byteLength(prefix),
      sender: envelope.mailFrom,
      messageId,
      subject,
      source: 'submission',
      clientIp: client.ip,
      authPrincipalId: principal.id,
      verifiedFrom: author.author,
      receivedAt: now,
      recipients: copies.map(({ recipient, originalRecipient, route, domain, tenantId }) => ({
        recipient,
        originalRecipient,
        route,
        domain,
        tenantId,
      })),
      metadata: inline && copies.some((r) => r.route === 'local') ? metadataOf(inline.data) : undefined,
      receivedDetail: { client: client.ip, auth: principal.address, source: client.via, session: id },
    });
  };
  const inboxQueueId = recipients.length ? await commit(recipients, prefix) : undefined;
  const junkQueueId = junk.length ? await commit(junk, junkPrefix, junkContent) : undefined;
  const queueId = inboxQueueId ?? junkQueueId ?? 0;
  return { ok: true, queueId, junkQueueId: inboxQueueId ? junkQueueId : undefined, envelope, sentAt: now };
}

/** The spam filter's refusal in RFC 8621's terms: refused for good, or for now (451: try again later). */
function refusalOf(refusal: FilterRefusal): SubmissionRefusal {
  return refusal.code === 451
    ? { type: 'serverUnavailable', description: refusal.text }
    : { type: 'forbiddenToSend', description: refusal.text };
}

/** A mailbox reached twice (named, and through a group) gets one copy, as intake does. */
function onceEach(recipients: NewRecipient[]): NewRecipient[] {
  const reached = new Set<string>();
  return recipients.filter((r) => {
    const key = `${r.route} ${r.recipient}`;
    if (reached.has(key)) return false;
    reached.add(key);
    return true;
  });
}

function metadataOf(content: Buffer) {
  try {
    return computeMetadata(content);
  } catch {
    return undefined;
  }
}
