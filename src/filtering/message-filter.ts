// The filter intake runs after DATA and before its 250: the message (bounded by max_scan_size) goes
// to rspamd and clamd at once, then the allow and block lists and each tenant's quarantine_score turn
// their answers into a refusal of the whole message or a place for each recipient's copy
// (verdict.ts). Only sockets are waited on: the event loop stays free while the scanners work.
import type { Kysely } from 'kysely';
import type { FilteringSettings } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../store/schema.ts';
import { ClamdClient } from './clamd-client.ts';
import { RspamdClient, type ScanEnvelope } from './rspamd-client.ts';
import { expireQuarantine } from './quarantine.ts';
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
  log?: Logger;
  now(): number;
}

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
    this.expireQuarantine();
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

  /** Retention, kept by the nodes that quarantine: at most hourly, never waited for by a scan. */
  private expireQuarantine() {
    const now = this.deps.now();
    if (now < this.nextExpiry) return;
    this.nextExpiry = now + expiryEveryMs;
    expireQuarantine(this.deps.db, now).then(
      (deleted) => deleted && this.deps.log?.info({ deleted }, 'filtering: expired quarantined messages deleted'),
      (error) => this.deps.log?.warn({ err: error }, 'filtering: expired quarantined messages could not be deleted'),
    );
  }

  private async quarantineScore(tenantId: number): Promise<number | undefined> {
    const { tenantQuarantineScore, quarantineScore } = this.settings;
    if (Object.keys(tenantQuarantineScore).length === 0) return quarantineScore;
    const name = (await this.deps.tenantName(tenantId)).toLowerCase();
    return tenantQuarantineScore[name] ?? quarantineScore;
  }
}
