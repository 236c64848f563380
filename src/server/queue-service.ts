// The queue role: the runner that delivers what intake committed (local and remote, with retries and
// leases), on every node with the role; and what must run once across them, as singletons (one node
// at a time, under a lease: cluster/singletons.ts): the housekeeping of finished mail and unused
// content, delay notices, and scheduled backups.
import { hostname } from 'node:os';
import { BackupSchedule, backupCheckIntervalMs } from '../backup/backup-schedule.ts';
import { ContinuityService } from '../continuity/continuity-service.ts';
import { SmtpClient } from '../flow/delivery/smtp-client.ts';
import { WorkerDestinations } from '../flow/delivery/worker-destinations.ts';
import { Housekeeping, housekeepingIntervalMs } from '../flow/queue/housekeeping.ts';
import { Notices } from '../flow/queue/notices.ts';
import { QueueRunner } from '../flow/queue/queue-runner.ts';
import { SieveDelivery } from '../flow/sieve-delivery.ts';
import { VacationResponder } from '../flow/vacation-responder.ts';
import { messageDeps } from '../mailbox/messages.ts';
import type { Holdfast, RunningService } from './holdfast.ts';
import { workerIndexVariable } from './worker-messages.ts';

/** How often deferred mail is looked at for senders to tell (one query when there is none). */
const delayNoticeIntervalMs = 60_000;

export async function startQueue(holdfast: Holdfast): Promise<RunningService> {
  const { config, store, directory, flow, dns, logger, now } = holdfast;
  const smtp = new SmtpClient();
  const runner = new QueueRunner({
    queue: flow.queue,
    newMail: flow.newMail,
    destinations: holdfast.destinations,
    local: {
      ...messageDeps(holdfast),
      directory,
      queue: flow.queue,
      scheduler: holdfast.scheduler,
      quarantineRetentionMs: config.filtering.quarantineRetentionMs,
      vacation: new VacationResponder({
        db: store.db,
        blobs: store.blobs,
        directory,
        committer: flow.committer,
        dkim: flow.dkim,
        config,
        log: logger.child({ component: 'mail' }),
        now,
      }),
      sieve: new SieveDelivery({
        db: store.db,
        blobs: store.blobs,
        directory,
        committer: flow.committer,
        config,
        log: logger.child({ component: 'sieve' }),
        now,
      }),
      log: logger.child({ component: 'calendar' }),
    },
    remote: {
      blobs: store.blobs,
      dns,
      relays: config.relays,
      hostname: config.hostname,
      remotePort: config.queue.remotePort,
      smtp,
    },
    logger: logger.child({ component: 'queue' }),
    maxActive: config.queue.maxActive,
    pollIntervalMs: config.queue.pollIntervalMs,
    leaseMs: config.queue.leaseMs,
    // Workers of `start --workers` share one SQLite file: only a dead process's leases are stale.
    singleNode: store.dialect === 'sqlite' && process.env[workerIndexVariable] === undefined,
    host: hostname(),
    now,
  });
  // A worker of --workers: slots granted by the primary wake the runner's waiting mail, and the
  // connections kept open between messages keep their slots.
  if (holdfast.destinations instanceof WorkerDestinations) {
    holdfast.destinations.onWake((destination) => runner.lookAgain(destination));
    holdfast.destinations.useConnections(smtp);
  }
  await runner.start();
  const housekeeping = new Housekeeping({
    db: store.db,
    blobs: store.blobs,
    keepFinishedMs: config.queue.keepFinishedMs,
    logger: logger.child({ component: 'housekeeping' }),
    now,
  });
  const { singletons } = holdfast.cluster;
  singletons.runAsSingleton('housekeeping', housekeepingIntervalMs, (run) => housekeeping.round(run.fence));
  const notices = new Notices({
    db: store.db,
    dialect: store.dialect,
    blobs: store.blobs,
    directory,
    config,
    log: logger.child({ component: 'mail' }),
    now,
  });
  const noticeLog = logger.child({ component: 'queue' });
  singletons.runAsSingleton('delay-notices', delayNoticeIntervalMs, async (run) => {
    const sent = await notices.sendDelayNotices(run.fence);
    if (sent) noticeLog.info({ recipients: sent }, 'queue: delay notices sent');
  });
  const backups = new BackupSchedule({
    db: store.db,
    config,
    node: holdfast.cluster.nodeId,
    logger: logger.child({ component: 'backup' }),
    now,
  });
  if (config.backup.everyMs !== undefined)
    singletons.runAsSingleton('backup', backupCheckIntervalMs, () => backups.round());
  // Continuity mode (docs/continuity.md): nothing runs unless [[continuity.upstream]] is configured.
  const continuity = new ContinuityService({
    db: store.db,
    dialect: store.dialect,
    config,
    directory,
    mail: messageDeps(holdfast),
    health: holdfast.health,
    watch: holdfast.upstreamWatch,
    newMail: flow.newMail,
    singletons,
    logger: logger.child({ component: 'continuity' }),
    now,
  });
  continuity.start();
  return {
    listeners: [],
    // The singletons stop with the node (start.ts): their leases are released after the services close.
    close: async () => {
      backups.stop();
      await continuity.stop();
      await runner.stop();
      smtp.close();
    },
  };
}
