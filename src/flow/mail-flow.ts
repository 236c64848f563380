// The mail flow's shared parts on one node: the queue and the intake committer. The SMTP role feeds
// the committer; the queue role runs deliveries and is woken as soon as new mail is committed.
import type { Config } from '../config/schema.ts';
import { MessageFilter } from '../filtering/message-filter.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Directory } from '../directory/directory.ts';
import type { Logger } from '../logging/logger.ts';
import type { Store } from '../store/store.ts';
import { DkimKeys } from './dkim-keys.ts';
import { createNoticeSender } from './intake/notice-mail.ts';
import { IntakeCommitter } from './queue/intake-committer.ts';
import { NewMailSignal } from './queue/new-mail-signal.ts';
import type { ExpiryClock } from './queue/outcomes.ts';
import { Queue } from './queue/queue.ts';
import { SenderLimits } from './sender-limits.ts';

export interface MailFlow {
  queue: Queue;
  committer: IntakeCommitter;
  /** The tenants' DKIM keys, for everything that leaves signed (submissions, iMIP). */
  dkim: DkimKeys;
  /** The sending limits of users, shared by submission and calendar invitations. */
  senderLimits: SenderLimits;
  /** Raised when mail is committed, so that the queue role picks it up at once rather than at its next poll. */
  newMail: NewMailSignal;
  /** Spam and malware scanning (filtering/), for SMTP intake and JMAP's EmailSubmission alike. */
  filter?: MessageFilter;
}

/** `log` receives the per-message lines of mail-log.ts (received, delivered, deferred, bounced). */
export function createMailFlow(deps: {
  config: Config;
  store: Store;
  directory: Directory;
  metrics?: Metrics;
  log?: Logger;
  /** The filter's log lines (`filtering: …`); without it, `log`. */
  filterLog?: Logger;
  /** When held mail's expiry clock starts (continuity mode); see queue/outcomes.ts. */
  expiryClock?: ExpiryClock;
  now(): number;
}): MailFlow {
  const queue = new Queue({
    db: deps.store.db,
    dialect: deps.store.dialect,
    blobs: deps.store.blobs,
    directory: deps.directory,
    config: deps.config,
    metrics: deps.metrics,
    log: deps.log,
    expiryClock: deps.expiryClock,
    now: deps.now,
  });
  const newMail = new NewMailSignal();
  const committer = new IntakeCommitter(deps.store.db, deps.store.dialect, () => newMail.raise(), deps.log);
  const senderLimits = new SenderLimits(deps);
  return {
    queue,
    committer,
    dkim: new DkimKeys(deps.store.db, deps.now),
    senderLimits,
    newMail,
    filter: new MessageFilter(deps.config.filtering, {
      db: deps.store.db,
      tenantName: (id) => senderLimits.tenantName(id),
      directory: deps.directory,
      sendNotice: createNoticeSender({ config: deps.config, store: deps.store, committer, now: deps.now }),
      log: deps.filterLog ?? deps.log,
      now: deps.now,
    }),
  };
}
