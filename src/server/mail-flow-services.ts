// The two mail-flow roles: "smtp" (listeners on 25/587/465 feeding intake) and "queue" (deliveries).
import { hostname } from 'node:os';
import { startSmtpListeners } from '../protocols/smtp/smtp-listeners.ts';
import { messageDeps, type Holdfast, type RunningService } from './holdfast.ts';
import { SmtpClient } from '../flow/delivery/smtp-client.ts';
import { BackPressure } from '../flow/intake/back-pressure.ts';
import { ConnectionLimits } from '../flow/intake/connection-limits.ts';
import { Intake } from '../flow/intake/intake.ts';
import { Housekeeping } from '../flow/queue/housekeeping.ts';
import { QueueRunner } from '../flow/queue/queue-runner.ts';

export async function startSmtp(holdfast: Holdfast): Promise<RunningService> {
  const { config, store, directory, flow, dns, now } = holdfast;
  const backPressure = new BackPressure({
    db: store.db,
    dataDir: config.dataDir,
    highWatermark: config.queue.highWatermark,
    lowWatermark: config.queue.lowWatermark,
    minFreeDiskBytes: config.queue.minFreeDiskBytes,
  });
  await backPressure.start();
  const limits = new ConnectionLimits(config.smtp.maxConnectionsPerIp);
  holdfast.metrics.countForestConnections(() => limits.forestUsage());
  const intake = new Intake({
    config,
    store,
    directory,
    committer: flow.committer,
    limits,
    backPressure,
    logins: holdfast.logins,
    dns,
    dkim: flow.dkim,
    senderLimits: flow.senderLimits,
    metrics: holdfast.metrics,
    now,
  });
  const smtp = await startSmtpListeners(holdfast, intake).catch((error) => {
    backPressure.stop();
    throw error;
  });
  holdfast.metrics.countSessions('smtp', () => smtp.sessionCount());
  return {
    listeners: smtp.listeners,
    close: async () => {
      backPressure.stop();
      await smtp.close();
    },
    forceClose: () => smtp.forceClose(),
  };
}

export async function startQueue(holdfast: Holdfast): Promise<RunningService> {
  const { config, store, directory, flow, dns, logger, now } = holdfast;
  const smtp = new SmtpClient();
  const runner = new QueueRunner({
    queue: flow.queue,
    local: { ...messageDeps(holdfast), directory, queue: flow.queue, scheduler: holdfast.scheduler, log: logger.child({ component: 'calendar' }) },
    remote: { blobs: store.blobs, dns, relays: config.relays, hostname: config.hostname, remotePort: config.queue.remotePort, smtp },
    logger: logger.child({ component: 'queue' }),
    maxActive: config.queue.maxActive,
    pollIntervalMs: config.queue.pollIntervalMs,
    leaseMs: config.queue.leaseMs,
    singleNode: store.dialect === 'sqlite',
    host: hostname(),
    now,
  });
  holdfast.runner = runner;
  flow.onCommitted = () => runner.nudge();
  await runner.start();
  const housekeeping = new Housekeeping({ db: store.db, blobs: store.blobs, keepFinishedMs: config.queue.keepFinishedMs, logger: logger.child({ component: 'housekeeping' }), now });
  housekeeping.start();
  return {
    listeners: [],
    close: async () => {
      await housekeeping.stop();
      await runner.stop();
      smtp.close();
    },
  };
}
