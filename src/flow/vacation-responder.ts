// Automatic replies (vacation responses) at local delivery: mail that reached a user's INBOX while
// their response is on (mailbox/vacation.ts) is answered once per sender per `days`, the way RFC 3834
// and Sieve's vacation (RFC 5230) say a responder must behave: never to the null sender, to other
// automatic mail, to mailing lists and bulk mail, to list and daemon addresses, nor to mail the user
// was not named on (a Bcc, a list, a group). The reply is ordinary outbound mail: DKIM-signed for the
// user's domain and queued like the rest, with the null envelope sender (RFC 5230 5.1 says it SHOULD
// be: a bounce of an auto-reply then goes nowhere, so two responders cannot loop).
//
// The messages are in the INBOXes, committed, before this runs: a failure here is logged and the
// delivery stands. A crash between the two loses a reply, never a message.
import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { decodeEncodedWords } from '../message/encoded-words.ts';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Directory, Principal } from '../directory/directory.ts';
import type { Logger } from '../logging/logger.ts';
import { claimReply, enabledVacations, vacationActive, type VacationSettings } from '../mailbox/vacation.ts';
import { headerAddresses } from '../message/headers.ts';
import { parseHeaderLines, type HeaderLine } from '../message/mime-tree.ts';
import { readHeaderSection } from '../message/stored-message.ts';
import type { VacationAction } from '../sieve/interpreter.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import type { Database } from '../store/schema.ts';
import type { DkimKeys } from './dkim-keys.ts';
import { dkimSignature } from './dkim-sign.ts';
import type { IntakeCommitter } from './queue/intake-committer.ts';
import type { QueuedMessage } from './queue/claimed-recipient.ts';
import { routeRecipient, upstreamDomainsOf } from './router.ts';

interface ReplySpec {
  subject: string | null;
  text?: string;
  html?: string;
  /** A whole MIME entity (its header fields and body) as the reply's content (:mime). */
  mime?: string;
  from?: string;
  seconds: number;
  /** The key the reply to a sender is remembered by (mailbox/vacation.ts claimReply). */
  claimKey: (sender: string) => string;
  /** Addresses besides the user's own that count as naming the user (:addresses). */
  extraAddresses: string[];
  now: number;
}

/** The address of a :from value when it is one of the user's own, else undefined. */
function ownAddress(from: string | undefined, own: ReadonlySet<string>): string | undefined {
  if (!from) return undefined;
  const address = (/<([^<>]+)>\s*$/.exec(from)?.[1] ?? from).trim().toLowerCase();
  return own.has(address) ? address : undefined;
}

/** The composed reply's header fields with `entity` (header fields, blank line, body) as its content. */
async function withMimeBody(mail: MailComposer, entity: string): Promise<Buffer> {
  const built = (await mail.compile().build()).toString('utf8');
  const head = built.slice(0, built.search(/\r?\n\r?\n/));
  const fields = head
    .split(/\r\n(?![ \t])/)
    .filter((f) => !/^(content-type|content-transfer-encoding|mime-version):/i.test(f));
  const body = entity.replace(/\r?\n/g, '\r\n').replace(/^(\r\n)+/, '');
  return Buffer.from(`${fields.join('\r\n')}\r\nMIME-Version: 1.0\r\n${body}`);
}

export interface VacationResponderDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  directory: Directory;
  committer: IntakeCommitter;
  dkim: DkimKeys;
  config: Pick<Config, 'hostname' | 'continuity'>;
  log?: Logger;
  now(): number;
}

/** A message now in a user's INBOX. */
export interface DeliveredTo {
  mailbox: Principal;
  message: QueuedMessage;
}

/** Why a message is not answered, or undefined when it is (for the log and the tests' reading of it). */
export function refusal(sender: string, headers: HeaderLine[], userAddresses: ReadonlySet<string>): string | undefined {
  // RFC 3834 2: the null sender marks a notification; answering it is how loops begin.
  if (sender === '') return 'null sender';
  const local = sender.slice(0, sender.lastIndexOf('@')).toLowerCase();
  if (local === 'mailer-daemon' || local.startsWith('owner-') || local.endsWith('-request'))
    return 'list or daemon address';
  if (userAddresses.has(sender.toLowerCase())) return 'from the user';
  const field = (name: string) => headers.filter(([n]) => n === name).map(([, value]) => value);
  // RFC 3834 5: anything but "no" was sent by a machine (auto-replied, auto-generated, auto-notified).
  const autoSubmitted = field('auto-submitted')
    .map((v) =>
      v
        .split(';')[0]!
        .replace(/\(.*?\)/g, '')
        .trim()
        .toLowerCase(),
    )
    .find((v) => v !== 'no');
  if (autoSubmitted !== undefined) return 'automatic mail';
  if (field('precedence').some((v) => /^(bulk|list|junk)$/i.test(v.trim()))) return 'bulk or list mail';
  // RFC 2369/2919 fields mark list traffic; Microsoft's suppression header asks for no auto-reply.
  if (headers.some(([n]) => n === 'list-id' || n === 'list-unsubscribe' || n === 'list-post')) return 'mailing list';
  if (field('x-auto-response-suppress').some((v) => /\b(all|oof)\b/i.test(v))) return 'asked for none';
  // Our spam filter's mark (filtering/; a sender's own is dropped on receipt): replying to spam
  // confirms the address to the spammer and sends mail to forged senders.
  if (field('x-spam-flag').some((v) => /^yes$/i.test(v.trim()))) return 'filed as junk';
  // RFC 5230 4.5: only mail that names the user (To, Cc, or their Resent- forms) is answered.
  const named = ['to', 'cc', 'resent-to', 'resent-cc'].flatMap((name) => field(name).flatMap(headerAddresses));
  if (!named.some((address) => userAddresses.has(address))) return 'user not in To or Cc';
  return undefined;
}

/** The default body when the user wrote none (RFC 8621 8 asks the server for an appropriate one). */
const defaultText = 'I am away at the moment and will read your message when I am back.';

export class VacationResponder {
  constructor(private readonly deps: VacationResponderDeps) {}

  /** Answers what should be answered of these deliveries; never throws. */
  async answer(delivered: DeliveredTo[]): Promise<void> {
    if (delivered.length === 0) return;
    let settings: Map<number, VacationSettings>;
    try {
      // The one cost for every delivery batch: an indexed look-up of the recipients that have one on.
      settings = await enabledVacations(
        this.deps.db,
        delivered.map((d) => d.mailbox.id),
      );
    } catch (error) {
      this.deps.log?.warn({ err: error }, 'vacation: settings not read; no automatic replies for this delivery');
      return;
    }
    if (settings.size === 0) return;
    const now = this.deps.now();
    for (const { mailbox, message } of delivered) {
      const vacation = settings.get(mailbox.id);
      if (!vacation || !vacationActive(vacation, now)) continue;
      try {
        await this.answerOne(mailbox, message, vacation, now);
      } catch (error) {
        this.deps.log?.warn(
          { recipient: mailbox.address, sender: message.sender, err: error },
          'vacation: automatic reply not sent',
        );
      }
    }
  }

  private answerOne(mailbox: Principal, message: QueuedMessage, vacation: VacationSettings, now: number) {
    return this.reply(mailbox, message, {
      subject: vacation.subject,
      text: vacation.textBody ?? (vacation.htmlBody ? undefined : defaultText),
      html: vacation.htmlBody ?? undefined,
      seconds: vacation.days * 86_400,
      claimKey: (sender) => sender,
      extraAddresses: [],
      now,
    });
  }

  /**
   * Sends the reply a Sieve `vacation` action asked for (RFC 5230), under the same rules as the
   * response set through JMAP: never to the null sender, lists, bulk or automatic mail, nor to mail
   * that does not name the user (or one of `:addresses`); once per sender in `:days`/`:seconds` for
   * each `:handle`. `:from` is used only when it is one of the user's own addresses. Never throws.
   */
  async answerSieve(mailbox: Principal, message: QueuedMessage, action: VacationAction, now: number): Promise<void> {
    try {
      const handle = createHash('sha256').update(action.handle).digest('hex').slice(0, 16);
      await this.reply(mailbox, message, {
        subject: action.subject ?? null,
        text: action.mime ? undefined : action.reason,
        mime: action.mime ? action.reason : undefined,
        from: action.from,
        seconds: action.seconds,
        // Replies are remembered per handle (RFC 5230 4.2), beside those of the JMAP response.
        claimKey: (sender) => `${sender} sieve:${handle}`,
        extraAddresses: action.addresses,
        now,
      });
    } catch (error) {
      this.deps.log?.warn(
        { recipient: mailbox.address, sender: message.sender, err: error },
        'vacation: automatic reply not sent',
      );
    }
  }

  private async reply(mailbox: Principal, message: QueuedMessage, spec: ReplySpec) {
    const { now } = spec;
    const addresses = await this.deps.db
      .selectFrom('addresses')
      .select('address')
      .where('principal_id', '=', mailbox.id)
      .execute();
    const own = new Set([mailbox.address, ...addresses.map((a) => a.address.toLowerCase())]);
    const userAddresses = new Set([...own, ...spec.extraAddresses.map((a) => a.toLowerCase())]);
    const headers = parseHeaderLines(await readHeaderSection(this.deps.blobs, message));
    const why = refusal(message.sender, headers, userAddresses);
    if (why) {
      this.deps.log?.debug({ recipient: mailbox.address, sender: message.sender, why }, 'vacation: not answered');
      return;
    }
    if (!(await claimReply(this.deps.db, mailbox.id, spec.claimKey(message.sender), spec.seconds / 86_400, now)))
      return;

    const last = (name: string) => headers.filter(([n]) => n === name).at(-1)?.[1];
    const messageId = last('message-id')?.match(/<[^<>\s]+>/)?.[0];
    const references = [...(last('references')?.match(/<[^<>\s]+>/g) ?? []), ...(messageId ? [messageId] : [])];
    const original = decodeEncodedWords(last('subject') ?? '').trim();
    const subject = spec.subject ?? (original ? `Auto: ${original}` : 'Automatic reply');
    const fromAddress = ownAddress(spec.from, own) ?? mailbox.address;
    const domain = fromAddress.split('@')[1]!;
    const from =
      spec.from && fromAddress !== mailbox.address
        ? spec.from
        : mailbox.displayName
          ? { name: mailbox.displayName, address: mailbox.address }
          : mailbox.address;
    const mail = new MailComposer({
      from,
      to: message.sender,
      subject,
      text: spec.text,
      html: spec.html,
      inReplyTo: messageId,
      references: references.length ? references.slice(-20).join(' ') : undefined,
      messageId: `<vacation-${now}-${Math.random().toString(36).slice(2)}@${this.deps.config.hostname}>`,
      date: new Date(now),
      // RFC 3834 5.2: marks the reply as automatic, so other responders leave it unanswered.
      headers: { 'Auto-Submitted': 'auto-replied' },
    });
    const unsigned = spec.mime === undefined ? await mail.compile().build() : await withMimeBody(mail, spec.mime);
    // Signed like mail the user submits, so the sender's DMARC check passes.
    const source = Buffer.concat([Buffer.from(await dkimSignature(this.deps.dkim, domain, unsigned, now)), unsigned]);
    const route = await routeRecipient(
      this.deps.directory,
      message.sender,
      mailbox.tenantId,
      undefined,
      upstreamDomainsOf(this.deps.config.continuity),
    );
    if (route.kind === 'unknown' || route.recipients.length === 0) return;
    const blob = await this.deps.blobs.put(source);
    const queueId = await this.deps.committer.submit({
      blobHash: blob.hash,
      prefix: '',
      size: blob.size,
      // The null reverse path (RFC 5230 5.1, RFC 3834 3.3): nothing comes back from the reply.
      sender: '',
      messageId: null,
      subject: subject.slice(0, 500),
      source: 'submission',
      // Server mail on the user's behalf: it does not draw on their sending limits.
      authPrincipalId: null,
      verifiedFrom: fromAddress,
      receivedAt: now,
      recipients: route.recipients.map((r) => ({ ...r, originalRecipient: message.sender })),
      receivedDetail: { source: 'vacation', inReplyToQueueId: message.id, for: mailbox.address },
    });
    this.deps.log?.info(
      { recipient: mailbox.address, sender: message.sender, queueId },
      'vacation: automatic reply queued',
    );
  }
}
