// Intake policy: what SMTP sessions may do, decided before any byte of a message is accepted, and
// the durable acceptance of the message itself. Independent of the SMTP library: the protocol layer
// calls these steps and sends the SmtpReply they throw.
import { randomUUID } from 'node:crypto';
import { authenticate as verifyMessage } from 'mailauth';
import type { Config } from '../../config/schema.ts';
import type { Directory, Principal } from '../../directory/directory.ts';
import { parseAddress } from '../../directory/names.ts';
import {
  captureHeaders,
  dropHeaderFields,
  headerAddresses,
  headerValue,
  parseHeaderSection,
  type HeaderField,
  rfc5322Date,
} from '../../message/headers.ts';
import { Readable } from 'node:stream';
import { MessageTooLarge, spoolMessage, type SpooledMessage } from './spool.ts';
import { computeMetadata } from '../../mailbox/message-metadata.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { DkimKeys } from '../dkim-keys.ts';
import { dkimSignature } from '../dkim-sign.ts';
import type { Store } from '../../store/store.ts';
import { filterMessage, type RewrittenContent } from '../../filtering/filter-message.ts';
import type { MessageFilter } from '../../filtering/message-filter.ts';
import { pausedRefusal } from '../../filtering/outbound-spam.ts';
import type { Logger } from '../../logging/logger.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { fitsQuota, sizeNotKnown } from '../../mailbox/quota.ts';
import { formatSize } from '../../config/size.ts';
import type { MailDns } from '../dns.ts';
import type { IntakeCommitter, NewRecipient } from '../queue/intake-committer.ts';
import { routeRecipient, upstreamDomainsOf } from '../router.ts';
import { SrsKey } from '../srs.ts';
import { withTenantDisclaimer } from './disclaimer.ts';
import { applyBlockedAttachments, BlockedAttachmentRules } from './attachment-filter.ts';
import { confirmedHostname } from './client-hostname.ts';
import type { BackPressure } from './back-pressure.ts';
import type { ConnectionLimits } from './connection-limits.ts';
import { smtpReply } from './smtp-reply.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { SenderLimits, SendingRefusal } from '../sender-limits.ts';
import { checkAuthor, maySendFrom, sendAsRefusal } from '../sender-checks.ts';
import {
  authenticatedDomains,
  domainOf,
  isAligned,
  TrustedRelays,
  type AuthenticatedDomains,
} from './sender-authentication.ts';

export type IntakeSource = 'mx' | 'submission';

/** How long the client's host name is looked up for, at most: after that the client has none. */
const hostnameTimeoutMs = 3000;

/**
 * Header fields removed from every message received, as Postfix's cleanup(8) does (its
 * message_drop_headers): Return-Path is what final delivery writes from the envelope (RFC 5321
 * §4.4), so one that came with the message is at best stale and at worst a forged bounce address.
 * X-Holdfast-Scan and X-Spam-Flag are what our own spam filter writes (filtering/verdict.ts): a
 * sender's would pass for a verdict it never gave; X-Holdfast-External what the organisation's
 * banner writes at delivery (external-banner.ts).
 */
const droppedOnReceipt: ReadonlySet<string> = new Set([
  'return-path',
  'x-holdfast-scan',
  'x-spam-flag',
  'x-holdfast-external',
]);

export interface SessionInfo {
  id: string;
  source: IntakeSource;
  clientIp: string;
  clientHostname?: string;
  helo?: string;
  secure: boolean;
}

interface SessionState {
  info: SessionInfo;
  /** The client's forward-confirmed host name, looked up from the connection on (a server's only). */
  hostname?: Promise<string | undefined>;
  principal?: Principal;
  forests: Set<number>;
  sender?: string;
  recipients: { original: string; orcpt: string | null; notify: string | null; routed: NewRecipient[] }[];
  /** The smallest message size limit among the tenants of the local recipients (inbound mail). */
  sizeLimit?: { bytes: number; tenant: string };
  /** The size MAIL FROM declared (SIZE=, RFC 1870), if it did. */
  declaredSize?: number;
}

export interface IntakeDeps {
  config: Config;
  store: Store;
  directory: Directory;
  committer: IntakeCommitter;
  limits: ConnectionLimits;
  backPressure: BackPressure;
  logins: LoginLimiter;
  dns: MailDns;
  dkim: DkimKeys;
  senderLimits: SenderLimits;
  /** Observes accept latency (end of DATA to 250), when set. */
  metrics?: Metrics;
  /** Spam and malware scanning after DATA (src/filtering/), when [filtering] names a scanner. */
  filter?: MessageFilter;
  log?: Logger;
  now(): number;
}

export class Intake {
  private readonly sessions = new Map<string, SessionState>();
  private readonly trustedRelays: TrustedRelays;
  /** The directory for routing: domains, addresses and forests from a short cache (lookup-cache.ts). */
  private readonly routing: Directory;
  /** Domains served by a continuity upstream: their mail is relayed there (router.ts). */
  private readonly upstreamDomains: ReadonlySet<string>;
  /** The key of the SRS addresses forwarded mail leaves with (flow/srs.ts). */
  private readonly srs: SrsKey;
  /** The tenants' blocked attachment types, read at most once a second (attachment-filter.ts). */
  private readonly attachmentRules: BlockedAttachmentRules;

  constructor(private readonly deps: IntakeDeps) {
    this.trustedRelays = new TrustedRelays(deps.config.smtp.trustedRelays);
    this.routing = deps.directory.routing;
    this.upstreamDomains = upstreamDomainsOf(deps.config.continuity);
    this.srs = new SrsKey(deps.store.db, deps.now);
    this.attachmentRules = new BlockedAttachmentRules(deps.store.db, deps.now);
  }

  /** Throws (or, with machine-wide limits under --workers, rejects with) the refusal of a connection over a limit. */
  connect(info: SessionInfo): Promise<void> | void {
    const counting = this.deps.limits.acquireIp(info.clientIp);
    const open = () => {
      // As Postfix does at connect: the name is there for our Received line and rspamd by the end of DATA.
      const hostname =
        info.source === 'submission' ? undefined : confirmedHostname(this.deps.dns, info.clientIp, hostnameTimeoutMs);
      this.sessions.set(info.id, { info, hostname, forests: new Set(), recipients: [] });
    };
    if (counting) return counting.then(open);
    open();
  }

  close(sessionId: string) {
    const state = this.sessions.get(sessionId);
    if (!state) return;
    this.deps.limits.releaseIp(state.info.clientIp);
    for (const forest of state.forests) this.deps.limits.releaseForest(forest);
    this.sessions.delete(sessionId);
  }

  /** What the session has said about itself since connecting (EHLO name, STARTTLS). */
  update(sessionId: string, details: { helo?: string; secure?: boolean }) {
    const state = this.state(sessionId);
    if (details.helo) state.info.helo = details.helo;
    if (details.secure !== undefined) state.info.secure = details.secure;
  }

  async login(sessionId: string, username: string, password: string): Promise<Principal> {
    const state = this.state(sessionId);
    const outcome = await this.deps.logins.attempt(state.info.clientIp, username, () =>
      this.deps.directory.authenticate(username, password),
    );
    if (!outcome.ok) {
      if (outcome.throttled) throw smtpReply(454, '4.7.0', outcome.message);
      throw smtpReply(535, '5.7.8', 'Authentication credentials invalid');
    }
    const { principal } = outcome;
    await this.joinForest(state, principal.tenantId);
    state.principal = principal;
    return principal;
  }

  async mailFrom(sessionId: string, address: string, params: { size?: number } = {}) {
    const state = this.state(sessionId);
    this.deps.backPressure.check();
    state.recipients = [];
    state.sizeLimit = undefined;
    state.declaredSize = params.size;
    state.sender = address.toLowerCase();
    if (state.info.source !== 'submission') return;
    const principal = this.requirePrincipal(state);
    if (!address) throw smtpReply(553, '5.7.1', 'Sender address rejected: a null sender is not allowed on submission');
    await this.checkSendAs(principal, address);
    await this.checkSenderRate(principal);
    // A user whose mail was taken for spam too often sends nothing until an administrator resumes it.
    const paused = await pausedRefusal(this.deps.store.db, principal);
    if (paused) throw smtpReply(550, '5.7.1', paused);
  }

  async rcptTo(sessionId: string, address: string, dsn: { orcpt?: string; notify?: string[] } = {}) {
    const state = this.state(sessionId);
    const { config } = this.deps;
    const { maxRecipients } = await this.deps.senderLimits.of(state.principal);
    if (state.recipients.length >= maxRecipients) {
      throw smtpReply(
        452,
        '4.5.3',
        `Too many recipients (at most ${maxRecipients} per message); send the rest in another message`,
      );
    }
    let parsed: string;
    try {
      // The one address without a domain every server takes (RFC 5321 §4.1.1.3); smtp-server passes it on.
      parsed = address.toLowerCase() === 'postmaster' ? 'postmaster' : parseAddress(address).asGiven;
    } catch {
      throw smtpReply(501, '5.1.3', `Bad recipient address syntax <${address}>`);
    }
    // A bounce (or reply) to the SRS address a forward of ours left with goes to the original sender.
    const srsOriginal = await this.reverseSrs(parsed);
    const route = await routeRecipient(
      this.routing,
      srsOriginal ?? parsed,
      state.principal?.tenantId ?? null,
      config.hostname,
      this.upstreamDomains,
    );
    if (route.kind === 'unknown')
      throw smtpReply(550, '5.1.1', `<${parsed}>: Recipient address rejected: no such user here`);
    if (route.kind === 'remote') {
      if (!state.principal && !route.ownDomain && !srsOriginal)
        throw smtpReply(
          550,
          '5.7.1',
          `<${parsed}>: Unable to relay; authenticate on the submission port to send to other domains`,
        );
      await this.checkRecipientRate(state);
    } else {
      if (state.info.source === 'mx') {
        await this.joinForest(state, route.tenantId);
        await this.narrowSizeLimit(state, route.tenantId);
      } else await this.checkRecipientRate(state);
      const mailbox = route.kind === 'local' ? route.principal : undefined;
      // The message is not here yet: it is checked at the size declared, or as the smallest message.
      if (
        mailbox &&
        mailbox.kind !== 'group' &&
        !(await fitsQuota(this.deps.store.db, mailbox.id, mailbox.quotaBytes, state.declaredSize ?? sizeNotKnown))
      ) {
        throw smtpReply(552, '5.2.2', `<${parsed}>: Mailbox full (quota ${formatSize(mailbox.quotaBytes)})`);
      }
    }
    state.recipients.push({
      original: parsed,
      orcpt: dsn.orcpt ?? null,
      notify: dsn.notify?.length ? dsn.notify.join(',').toUpperCase() : null,
      routed: route.recipients.map((r) => ({
        recipient: r.recipient,
        originalRecipient: parsed,
        route: r.route,
        domain: r.domain,
        tenantId: r.tenantId,
      })),
    });
  }

  /**
   * The original sender behind an SRS0 address at one of our domains (flow/srs.ts), undefined for
   * any other address. One whose hash is wrong or that is too old is refused as an unknown user:
   * without the check anyone could relay through it.
   */
  private async reverseSrs(address: string): Promise<string | undefined> {
    const unwound = await this.srs.unwind(address, async (domain) => Boolean(await this.routing.findDomain(domain)));
    if (unwound.refused)
      throw smtpReply(
        550,
        '5.1.1',
        `<${address}>: Recipient address rejected: not a valid forwarding return address (wrong or expired)`,
      );
    if (unwound.address === address) return undefined;
    try {
      return parseAddress(unwound.address).asGiven;
    } catch {
      throw smtpReply(550, '5.1.1', `<${address}>: Recipient address rejected: not a valid forwarding return address`);
    }
  }

  /**
   * Streams the message into the blob store, checks it, and commits it with its recipients. Resolves
   * (so the client may get `250`) only once everything is durably stored.
   */
  async data(
    sessionId: string,
    stream: Readable,
    envelope: { envid?: string | null; ret?: string | null },
  ): Promise<string> {
    const state = this.state(sessionId);
    const { config, store } = this.deps;
    const capture = captureHeaders(
      dropHeaderFields(stream, droppedOnReceipt, config.smtp.maxHeaderSize),
      config.smtp.maxHeaderSize,
    );
    const tenantLimit = state.principal
      ? (await this.deps.senderLimits.of(state.principal)).maxMessageSize
      : state.sizeLimit?.bytes;
    const maxBytes = Math.min(config.smtp.maxMessageSize, tenantLimit ?? Infinity);
    const tooLarge = async () => {
      if (maxBytes >= config.smtp.maxMessageSize)
        return smtpReply(
          552,
          '5.3.4',
          `Message size exceeds fixed maximum message size (${formatSize(config.smtp.maxMessageSize)})`,
        );
      const tenant = state.principal
        ? await this.deps.senderLimits.tenantName(state.principal.tenantId)
        : state.sizeLimit!.tenant;
      return smtpReply(
        552,
        '5.3.4',
        `Message size exceeds the maximum message size of tenant ${tenant} (${formatSize(maxBytes)})`,
      );
    };
    let spooled = await spoolMessage(capture.stream, store.blobs, maxBytes).catch(async (error: unknown) => {
      throw error instanceof MessageTooLarge ? await tooLarge() : error;
    });
    const dataEnded = performance.now();
    let blob = spooled.blob;
    // Every header field is checked (From above all), so a header section longer than what is read is refused.
    if (!capture.complete())
      throw smtpReply(
        552,
        '5.3.4',
        `Message header size exceeds fixed maximum header size (${config.smtp.maxHeaderSize} bytes)`,
      );
    const fields = parseHeaderSection(capture.headers());
    const received = fields.filter((f) => f.name === 'received').length;
    if (received > config.smtp.maxReceivedHeaders) {
      throw smtpReply(
        554,
        '5.4.6',
        `Routing loop detected: the message has passed ${received} mail servers (more than ${config.smtp.maxReceivedHeaders})`,
      );
    }

    const now = this.deps.now();
    const added: string[] = [];
    let authResults: Record<string, unknown> = {};
    let verifiedFrom: string | null;
    if (state.info.source === 'submission') {
      verifiedFrom = await this.checkAuthor(this.requirePrincipal(state), fields);
      // The organisation's disclaimer goes in before the DKIM signature is made, which covers it.
      spooled = await withTenantDisclaimer(this.deps.store, this.requirePrincipal(state).tenantId, spooled);
      blob = spooled.blob;
      if (!headerValue(fields, 'message-id')) added.push(`Message-ID: <${randomUUID()}@${config.hostname}>`);
      if (!headerValue(fields, 'date')) added.push(`Date: ${rfc5322Date(now)}`);
    } else {
      const verdict = await this.verify(state, spooled);
      verifiedFrom = await this.checkOwnDomains(state, fields, verdict.domains);
      authResults = verdict.summary;
      if (verdict.headers) added.unshift(verdict.headers.trimEnd());
    }
    let prefix = added.map((h) => `${h}\r\n`).join('');
    if (state.info.source === 'submission')
      prefix = (await this.dkimSignature(state, fields, prefix, spooled)) + prefix;
    // Our Received line goes on top, as every hop's does (RFC 5321 4.4), naming the client by its
    // confirmed name: looked up since the connection, so by now it is there (or its 3 s have passed).
    const hostname = await state.hostname;
    if (hostname) state.info.clientHostname = hostname;
    prefix = `${this.receivedHeader(state, now)}\r\n${prefix}`;

    let recipients = oncePerMailbox(
      state.recipients.flatMap((r) => r.routed.map((routed) => ({ ...routed, orcpt: r.orcpt, notify: r.notify }))),
    );
    // The organisation's blocked attachment types: refused, or held for the recipients whose tenant blocks them.
    recipients = await applyBlockedAttachments(
      {
        store,
        routing: this.routing,
        rules: this.attachmentRules,
        quarantineRetentionMs: config.filtering.quarantineRetentionMs,
        log: this.deps.log,
      },
      {
        spooled,
        prefix,
        fields,
        sender: state.sender ?? '',
        clientIp: state.info.clientIp,
        session: state.info.id,
        now,
      },
      recipients,
    );
    const messageId = headerValue(fields, 'message-id') ?? /^Message-ID: (.*)$/m.exec(prefix)?.[1] ?? null;
    const subject = headerValue(fields, 'subject')?.slice(0, 500) ?? null;
    // The spam and malware scan: after the message is whole, before the 250 (filtering/), as for JMAP.
    let junk: typeof recipients = [];
    let junkPrefix = prefix;
    let junkContent: RewrittenContent | undefined;
    if (this.deps.filter?.appliesTo(state.info.source)) {
      const filtered = await filterMessage(
        this.deps.filter,
        { store: this.deps.store, routing: this.routing, log: this.deps.log },
        {
          prefix,
          message: { hash: blob.hash, size: blob.size, data: spooled.inline?.data },
          envelope: {
            clientIp: state.info.clientIp,
            helo: state.info.helo,
            hostname: state.info.clientHostname,
            sender: state.sender ?? '',
            // As the client gave them (RCPT TO), not as routed: rspamd compares them with To and Cc.
            recipients: state.recipients.map((r) => r.original),
            user: state.principal?.address,
            queueId: state.info.id,
          },
          recipients,
          submittedBy:
            state.info.source === 'submission' && state.principal
              ? {
                  principalId: state.principal.id,
                  tenantId: state.principal.tenantId,
                  address: state.principal.address,
                }
              : undefined,
          subject,
          messageId,
          now,
        },
      );
      if (filtered.refusal) throw smtpReply(filtered.refusal.code, filtered.refusal.enhanced, filtered.refusal.text);
      ({ prefix, junkPrefix, inbox: recipients, junk, junkContent } = filtered);
      if (!recipients.length && !junk.length) {
        state.recipients = [];
        return '2.0.0 Ok: accepted';
      }
    }
    const forMailboxes = spooled.inline && [...recipients, ...junk].some((r) => r.route === 'local');
    const metadata = forMailboxes ? metadataOf(spooled.inline!.data) : undefined;
    const commit = (
      recipients: typeof junk,
      prefix: string,
      content: Pick<RewrittenContent, 'blob' | 'inline'> & { metadata?: typeof metadata } = {
        blob,
        inline: spooled.inline,
        metadata,
      },
    ) =>
      this.deps.committer.submit({
        blobHash: content.blob.hash,
        inlineBlob: content.inline,
        prefix,
        size: content.blob.size + Buffer.byteLength(prefix),
        sender: state.sender ?? '',
        messageId,
        subject,
        source: state.info.source,
        clientIp: state.info.clientIp,
        authPrincipalId: state.principal?.id ?? null,
        verifiedFrom,
        envid: envelope.envid ?? null,
        ret: envelope.ret ?? null,
        receivedAt: now,
        recipients,
        metadata: content.metadata,
        receivedDetail: {
          client: state.info.clientIp,
          helo: state.info.helo,
          tls: state.info.secure,
          auth: state.principal?.address,
          source: state.info.source,
          session: state.info.id,
          ...authResults,
        },
      });
    // Copies for the Junk folder are a queue entry of their own, marked for local delivery.
    const ids = [
      ...(recipients.length ? [await commit(recipients, prefix)] : []),
      ...(junk.length
        ? [
            await commit(
              junk,
              junkPrefix,
              junkContent && { ...junkContent, metadata: junkContent.inline && metadataOf(junkContent.data) },
            ),
          ]
        : []),
    ];
    this.deps.metrics?.acceptLatency.observe((performance.now() - dataEnded) / 1000);
    state.recipients = [];
    return `2.0.0 Ok: queued as ${ids.join(', ')}`;
  }

  private async verify(state: SessionState, message: SpooledMessage) {
    const { config, dns } = this.deps;
    const result = await verifyMessage(message.inline?.data ?? message.open(), {
      ip: state.info.clientIp,
      helo: state.info.helo,
      sender: state.sender || undefined,
      mta: config.hostname,
      resolver: dns.resolve as never,
      disableBimi: true,
    });
    const dmarc = result.dmarc as { status?: { result?: string }; policy?: string; domain?: string } | false;
    if (dmarc && dmarc.status?.result === 'fail' && dmarc.policy === 'reject') {
      throw smtpReply(
        550,
        '5.7.509',
        `Access denied, sending domain ${dmarc.domain} does not pass DMARC verification and has a DMARC policy of reject`,
      );
    }
    return {
      headers: result.headers as string,
      domains: authenticatedDomains(result),
      summary: {
        spf: (result.spf as { status?: { result?: string } } | undefined)?.status?.result ?? 'none',
        dkim:
          (result.dkim as { results?: { status?: { result?: string } }[] })?.results?.map((r) => r.status?.result) ??
          [],
        dmarc: dmarc ? dmarc.status?.result : 'none',
      },
    };
  }

  /** A DKIM-Signature for mail submitted from one of the sender's tenant's domains. */
  private async dkimSignature(
    state: SessionState,
    fields: HeaderField[],
    prefix: string,
    message: SpooledMessage,
  ): Promise<string> {
    const fromDomain = headerAddresses(headerValue(fields, 'from'))[0]?.split('@')[1] ?? state.sender?.split('@')[1];
    if (!fromDomain) return '';
    const owner = await this.routing.findDomain(fromDomain).catch(unlessUnavailable);
    if (!owner || owner.tenantId !== state.principal?.tenantId) return '';
    const content = message.inline
      ? Buffer.concat([Buffer.from(prefix), message.inline.data])
      : withPrefix(prefix, message.open());
    return dkimSignature(this.deps.dkim, fromDomain, content, this.deps.now());
  }

  private receivedHeader(state: SessionState, now: number): string {
    const { info, principal } = state;
    const protocol = `ESMTP${info.secure ? 'S' : ''}${principal ? 'A' : ''}`;
    const from = `${info.helo ?? 'unknown'} (${info.clientHostname && info.clientHostname !== `[${info.clientIp}]` ? `${info.clientHostname} ` : ''}[${info.clientIp}])`;
    const forClause = state.recipients.length === 1 ? `\r\n\tfor <${state.recipients[0]!.original}>` : '';
    return `Received: from ${from}\r\n\tby ${this.deps.config.hostname} (Holdfast) with ${protocol} id ${info.id}${forClause};\r\n\t${rfc5322Date(now)}`;
  }

  private async joinForest(state: SessionState, tenantId: number) {
    const forest = await this.routing.forestOfTenant(tenantId);
    if (state.forests.has(forest.id)) return;
    await this.deps.limits.acquireForest(forest.id, forest.maxConnections, forest.name);
    // The client may have gone while the forest was looked up or counted: its close released what
    // the session held then, so this slot goes back at once.
    if (this.sessions.get(state.info.id) !== state) return this.deps.limits.releaseForest(forest.id);
    state.forests.add(forest.id);
  }

  private async checkSendAs(principal: Principal, address: string) {
    if (!(await maySendFrom(this.deps.directory, principal, address)))
      throw smtpReply(553, '5.7.1', sendAsRefusal(principal, address));
  }

  /**
   * A submitted message names its author in exactly one From field, with addresses the user may send
   * as (sender-checks.ts, shared with JMAP); its DKIM signature vouches for that author. Returns the
   * one author, if there is one.
   */
  private async checkAuthor(principal: Principal, fields: HeaderField[]): Promise<string | null> {
    const checked = await checkAuthor(this.deps.directory, principal, fields);
    if ('refusal' in checked) throw smtpReply(553, '5.7.1', checked.refusal.text);
    return checked.author;
  }

  /**
   * Mail from outside that claims one of our own domains (envelope sender or From) must prove it:
   * SPF or DKIM aligned with that domain, or a trusted relay passing it on. Otherwise anyone could
   * mail our users as their colleagues. Returns the message's one From address if it is proved.
   */
  private async checkOwnDomains(
    state: SessionState,
    fields: HeaderField[],
    proof: AuthenticatedDomains,
  ): Promise<string | null> {
    const trusted = this.trustedRelays.has(state.info.clientIp);
    const from = fields.filter((f) => f.name === 'from');
    const authors = from.flatMap((f) => headerAddresses(f.value));
    if (!trusted) {
      const claims = new Map<string, string>();
      for (const address of [state.sender ?? '', ...authors])
        if (domainOf(address) && !claims.has(domainOf(address))) claims.set(domainOf(address), address);
      for (const [domain, address] of claims) {
        if (isAligned(domain, proof) || !(await this.routing.findDomain(domain).catch(unlessUnavailable))) continue;
        // A DNS failure is no proof of spoofing: the sender tries again, as with DMARC's temperror.
        if (proof.temporaryError)
          throw smtpReply(
            451,
            '4.4.3',
            `Message not accepted for now: SPF and DKIM for ${domain} could not be checked (a DNS error); try again later`,
          );
        throw smtpReply(
          550,
          '5.7.1',
          `Message rejected as spoofed: <${address}> is in ${domain}, a domain of this server, and the message passed neither SPF nor DKIM for ${domain}; senders of ${domain} use the submission port`,
        );
      }
    }
    const author = from.length === 1 && authors.length === 1 ? authors[0]! : undefined;
    return author && (trusted || isAligned(domainOf(author), proof)) ? author : null;
  }

  /** Inbound mail is held to the smallest size limit among its recipients' tenants. */
  private async narrowSizeLimit(state: SessionState, tenantId: number) {
    const { maxMessageSize } = await this.deps.senderLimits.ofTenant(tenantId);
    if (
      maxMessageSize >= this.deps.config.smtp.maxMessageSize ||
      (state.sizeLimit && state.sizeLimit.bytes <= maxMessageSize)
    )
      return;
    state.sizeLimit = { bytes: maxMessageSize, tenant: await this.deps.senderLimits.tenantName(tenantId) };
  }

  private async checkSenderRate(principal: Principal) {
    throwRefusal(await this.deps.senderLimits.messageRefusal(principal));
  }

  /** The 24-hour recipient limit of an authenticated sender; a group counts as one recipient. */
  private async checkRecipientRate(state: SessionState) {
    if (state.principal)
      throwRefusal(await this.deps.senderLimits.recipientRefusal(state.principal, state.recipients.length));
  }

  private requirePrincipal(state: SessionState): Principal {
    if (!state.principal) throw smtpReply(530, '5.7.0', 'Authentication required');
    return state.principal;
  }

  private state(sessionId: string): SessionState {
    const state = this.sessions.get(sessionId);
    if (!state) throw smtpReply(421, '4.3.0', 'Session state lost, closing transmission channel');
    return state;
  }
}

/**
 * For lookups whose failure means "no": a store that cannot be reached is no answer at all, and must
 * not turn into a permanent refusal (or a skipped check); it reaches the session as 451 4.3.0.
 */
function unlessUnavailable(error: unknown): undefined {
  if (isStoreUnavailable(error)) throw error;
  return undefined;
}

/**
 * A mailbox reached twice (named and through a group or alias, say) gets one copy, as with Postfix's
 * duplicate filter: the first RCPT that reached it (its ORCPT and NOTIFY) stands.
 */
function oncePerMailbox<R extends { route: string; recipient: string }>(recipients: R[]): R[] {
  const reached = new Set<string>();
  return recipients.filter((r) => {
    const key = `${r.route} ${r.recipient}`;
    if (reached.has(key)) return false;
    reached.add(key);
    return true;
  });
}

function throwRefusal(refusal: SendingRefusal | undefined) {
  if (!refusal) return;
  throw refusal.limit === 'messages-per-minute'
    ? smtpReply(450, '4.7.1', refusal.text)
    : smtpReply(452, '4.5.3', refusal.text);
}

function withPrefix(prefix: string, content: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from(prefix);
      yield* content;
    })(),
    { objectMode: false },
  );
}

/** The content's metadata, or nothing if it cannot be computed: delivery tries again and reports it. */
function metadataOf(content: Buffer) {
  try {
    return computeMetadata(content);
  } catch {
    return undefined;
  }
}
