// The filter intake runs after DATA and before its 250: the message (bounded by max_scan_size) goes
// to rspamd and clamd at once, then the allow and block lists and each tenant's quarantine_score turn
// their answers into a refusal of the whole message or a place for each recipient's copy
// (verdict.ts). Only sockets are waited on: the event loop stays free while the scanners work.
import type { Kysely } from 'kysely';
import type { FilteringSettings } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../store/schema.ts';
import { ClamdClient } from './clamd-client.ts';
import { RspamdClient, type ScanEnvelope } from './rspamd-client.ts';
import { recordOutboundSpam } from './outbound-spam.ts';
import { expireQuarantine } from './quarantine.ts';
import { digestsDue, digestText, markNotified } from './quarantine-digest.ts';
import { listVerdict } from './sender-lists.ts';
import {
  disposition,
  failureOf,
  messageRefusal,
  scanHeader,
  type Disposition,
  type FilterRefusal,
  type ScanOutcome,
} from './verdict.ts';

/** A local mailbox the message is for. */
export interface FilteredRecipient {
  address: string;
  principalId: number;
  tenantId: number;
}

export interface FilterPlan {
  refusal?: FilterRefusal;
  /** The X-Holdfast-Scan line for the prefix of every copy. */
  header: string;
  /** Where each local recipient's copy goes (by address); others are treated as the INBOX ones. */
  dispositions: Map<string, Disposition>;
  outcome: ScanOutcome;
}

export interface FilterDeps {
  db: Kysely<Database>;
  /** A tenant's name, for its quarantine_score. */
  tenantName(tenantId: number): Promise<string>;
  /** Who is told of a paused sender: the tenant's administrators and the global ones. */
  directory?: Pick<Directory, 'administrators'>;
  /** Sends the server's own mail to local mailboxes (digests, alerts); without it none is sent. */
  sendNotice?: (notice: {
    to: { address: string; tenantId: number }[];
    subject: string;
    text: string;
  }) => Promise<void>;
  log?: Logger;
  now(): number;
}

/** rspamd's actions that make a submitted message a strike against its sender. */
const outboundSpamActions = new Set(['reject', 'soft reject', 'add header', 'rewrite subject']);

/** How often a node deletes quarantined messages past their retention (every node may; it is idempotent). */
const expiryEveryMs = 3_600_000;

export class MessageFilter {
  readonly rspamd?: RspamdClient;
  readonly clamd?: ClamdClient;
  private nextExpiry = 0;

  constructor(
    readonly settings: FilteringSettings,
    private readonly deps: FilterDeps,
  ) {
    if (settings.rspamdUrl || settings.rspamdControllerUrl)
      this.rspamd = new RspamdClient({
        url: settings.rspamdUrl,
        controllerUrl: settings.rspamdControllerUrl,
        password: settings.rspamdPassword,
        timeoutMs: settings.timeoutMs,
      });
    if (settings.clamd) this.clamd = new ClamdClient(settings.clamd, settings.timeoutMs);
  }

  /** Whether mail from this source is scanned at all. */
  appliesTo(source: 'mx' | 'submission'): boolean {
    const scanning = Boolean(this.settings.rspamdUrl || this.clamd);
    return scanning && (source === 'mx' || this.settings.scanSubmission);
  }

  /**
   * Scans a message: `content` is what the scanners are sent (Holdfast's header lines and the
   * message), or undefined when it is larger than max_scan_size.
   */
  async scan(content: Buffer | undefined, envelope: ScanEnvelope): Promise<ScanOutcome> {
    this.housekeeping();
    const outcome: ScanOutcome = { notScanned: [] };
    if (!content) {
      outcome.notScanned.push({
        engine: 'all',
        reason: `larger than max_scan_size (${this.settings.maxScanSize} bytes)`,
      });
      return outcome;
    }
    const [spam, malware] = await Promise.allSettled([
      this.settings.rspamdUrl ? this.rspamd!.check(content, envelope) : undefined,
      this.clamd?.scan(content),
    ]);
    if (spam.status === 'fulfilled') outcome.spam = spam.value;
    else outcome.notScanned.push(failureOf(spam.reason));
    if (malware.status === 'fulfilled') outcome.malware = malware.value;
    else outcome.notScanned.push(failureOf(malware.reason));
    for (const failed of outcome.notScanned)
      this.deps.log?.warn(
        { engine: failed.engine, reason: failed.reason, policy: this.settings.onFailure, session: envelope.queueId },
        'filtering: a scanner did not answer',
      );
    return outcome;
  }

  /** The refusal of the message, or where each local recipient's copy goes. */
  async plan(outcome: ScanOutcome, sender: string, recipients: FilteredRecipient[]): Promise<FilterPlan> {
    const listed = new Map<string, Awaited<ReturnType<typeof listVerdict>>>();
    for (const r of recipients)
      listed.set(r.address, await listVerdict(this.deps.db, r.tenantId, r.principalId, sender));
    const allowedSomewhere = [...listed.values()].some((l) => l?.list === 'allow');
    const refusal = messageRefusal(outcome, this.settings, allowedSomewhere);
    const dispositions = new Map<string, Disposition>();
    if (!refusal)
      for (const r of recipients)
        dispositions.set(
          r.address,
          disposition(outcome, listed.get(r.address), await this.quarantineScore(r.tenantId)),
        );
    return { refusal, header: scanHeader(outcome), dispositions, outcome };
  }

  /**
   * A submitted message's verdict against its sender: spam is a strike, and the strike that reaches
   * outbound_spam_limit within an hour pauses the user's sending and alerts the administrators.
   */
  async judgeSender(sender: { principalId: number; tenantId: number; address: string }, outcome: ScanOutcome) {
    const spam = outcome.spam;
    if (!spam || !outboundSpamActions.has(spam.action)) return;
    const detail = `rspamd: ${spam.action}, score ${spam.score}`;
    const { paused, strikes } = await recordOutboundSpam(
      this.deps.db,
      sender,
      detail,
      this.settings.outboundSpamLimit,
      this.deps.now(),
    );
    this.deps.log?.warn({ user: sender.address, strikes, detail, paused }, 'filtering: a user submitted spam');
    if (!paused || !this.deps.sendNotice || !this.deps.directory) return;
    const admins = [
      ...(await this.deps.directory.administrators(sender.tenantId)),
      ...(await this.deps.directory.administrators(null)),
    ];
    const to = [...new Map(admins.map((a) => [a.address, { address: a.address, tenantId: a.tenantId }])).values()];
    await this.deps
      .sendNotice({
        to,
        subject: `Sending paused for ${sender.address}: it sent spam`,
        text: [
          `${sender.address} submitted ${strikes} messages within an hour that the spam filter took for spam`,
          `(the last: ${detail}). Its sending is paused: further mail it submits is refused with 550 5.7.1.`,
          'Mail to it is still delivered. If its password may be known to others, change it',
          `(holdfast user passwd ${sender.address}); then let it send again with:`,
          '',
          `  holdfast senders resume ${sender.address}`,
          '',
        ].join('\n'),
      })
      .catch((error) => this.deps.log?.warn({ err: error }, 'filtering: the alert of a paused sender was not sent'));
  }

  /**
   * What the nodes that quarantine keep up, at most hourly and never waited for by a scan: held
   * messages past their retention are deleted, and users with newly held messages get their digest.
   * Every node may do it: both are idempotent.
   */
  private housekeeping() {
    const now = this.deps.now();
    if (now < this.nextExpiry) return;
    this.nextExpiry = now + expiryEveryMs;
    (async () => {
      const deleted = await expireQuarantine(this.deps.db, now);
      if (deleted) this.deps.log?.info({ deleted }, 'filtering: expired quarantined messages deleted');
      if (this.settings.quarantineDigest && this.deps.sendNotice) await this.sendDigests(now);
    })().catch((error) => this.deps.log?.warn({ err: error }, 'filtering: quarantine housekeeping failed'));
  }

  async sendDigests(now: number) {
    for (const digest of await digestsDue(this.deps.db, now)) {
      const { subject, text } = digestText(digest, this.settings.quarantineRetentionMs);
      await this.deps.sendNotice!({ to: [{ address: digest.recipient, tenantId: digest.tenantId }], subject, text });
      await markNotified(this.deps.db, digest, now);
    }
  }

  private async quarantineScore(tenantId: number): Promise<number | undefined> {
    const { tenantQuarantineScore, quarantineScore } = this.settings;
    if (Object.keys(tenantQuarantineScore).length === 0) return quarantineScore;
    const name = (await this.deps.tenantName(tenantId)).toLowerCase();
    return tenantQuarantineScore[name] ?? quarantineScore;
  }
}
