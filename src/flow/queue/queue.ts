// The queue: per-recipient delivery state with leases, as Postfix splits its queue manager, one job
// per module: claims.ts (which due recipients a worker gets), leases.ts (renewal, expiry, fencing),
// outcomes.ts (delivered, deferred, failed; local delivery in the same transaction) and notices.ts
// (DSNs and delay notices). This is what the runner and the administration call.
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import type { Dialect } from '../../store/database.ts';
import type { Kysely } from 'kysely';
import type { Database, RecipientState } from '../../store/schema.ts';
import { loadRecipients, type ClaimedRecipient, type Outcome } from './claimed-recipient.ts';
import { Claims } from './claims.ts';
import { releaseStaleLeases, renewLeases } from './leases.ts';
import { Notices } from './notices.ts';
import { Outcomes, type ExpiryClock, type LocalDeliveries, type LocalRecipient } from './outcomes.ts';

export type { ClaimedRecipient, Outcome, QueuedMessage } from './claimed-recipient.ts';

export interface QueueDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  directory: Directory;
  config: Pick<Config, 'hostname' | 'queue' | 'continuity'>;
  /** When held mail's expiry clock starts (outcomes.ts); every clock at arrival without it. */
  expiryClock?: ExpiryClock;
  /** Counts outcomes and delivery latency, when set. */
  metrics?: Metrics;
  /** Where each recipient's outcome is logged (mail-log.ts), when set. */
  log?: Logger;
  now(): number;
}

export const queueStates: RecipientState[] = ['queued', 'inflight', 'deferred', 'delivered', 'failed'];

export class Queue {
  private readonly claims: Claims;
  private readonly notices: Notices;
  readonly outcomes: Outcomes;

  constructor(private readonly deps: QueueDeps) {
    this.claims = new Claims(deps);
    this.notices = new Notices(deps);
    this.outcomes = new Outcomes({ ...deps, notices: this.notices });
  }

  /**
   * Claims up to `limit` due recipients for `owner`, fairly between tenants and between fresh and
   * retried mail (claims.ts).
   */
  claim(owner: string, limit: number, routes?: ('local' | 'remote')[]): Promise<ClaimedRecipient[]> {
    return this.claims.claim(owner, limit, routes);
  }

  /** Recipients as the queue sees them (for administrative actions on waiting mail). */
  loadRecipients(ids: number[]): Promise<ClaimedRecipient[]> {
    return loadRecipients(this.deps.db, ids);
  }

  /** A destination is back: its deferred mail is due now instead of at its next retry. */
  retryDestination(target: { allRemote: true } | { domains: string[] }): Promise<number> {
    return this.claims.retryDestination(target);
  }

  renewLeases(owner: string, ids: number[]) {
    return renewLeases(this.deps, owner, ids);
  }

  releaseStaleLeases(scope: { allOwners: boolean; host: string }) {
    return releaseStaleLeases(this.deps, scope);
  }

  recordDelivered(outcomes: Outcome[]): Promise<void> {
    return this.outcomes.recordDelivered(outcomes);
  }

  deliverLocally(recipients: LocalRecipient[]): Promise<LocalDeliveries> {
    return this.outcomes.deliverLocally(recipients);
  }

  recordDeferred(outcomes: Outcome[], notAttempted = false) {
    return this.outcomes.recordDeferred(outcomes, notAttempted);
  }

  recordFailed(outcomes: Outcome[], event?: 'bounced' | 'expired') {
    return this.outcomes.recordFailed(outcomes, event);
  }

  sendDelayNotices(): Promise<number> {
    return this.notices.sendDelayNotices();
  }
}
