// The smtp role: listeners on 25/587/465 whose sessions feed intake (policy, limits, back pressure).
import { BackPressure } from '../flow/intake/back-pressure.ts';
import { ConnectionLimits } from '../flow/intake/connection-limits.ts';
import { Intake } from '../flow/intake/intake.ts';
import { startSmtpListeners } from '../protocols/smtp/smtp-listeners.ts';
import type { Holdfast, RunningService } from './holdfast.ts';

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
  const limits = new ConnectionLimits(
    config.smtp.maxConnectionsPerIp,
    holdfast.machineLimits?.count('smtp-ip', config.smtp.maxConnectionsPerIp),
    holdfast.machineLimits?.limit('smtp-forest'),
  );
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
    filter: flow.filter,
    log: holdfast.logger.child({ component: 'mail' }),
    now,
  });
  const settings = { config, tls: holdfast.tls, logger: holdfast.logger, signIns: { db: store.db, now } };
  const smtp = await startSmtpListeners(settings, intake).catch((error) => {
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
