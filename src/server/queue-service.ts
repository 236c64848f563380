// The queue role: the runner that delivers what intake committed (local and remote, with retries and
// leases) and the housekeeping of finished mail.
import { hostname } from 'node:os';
import { SmtpClient } from '../flow/delivery/smtp-client.ts';
import { Housekeeping } from '../flow/queue/housekeeping.ts';
import { QueueRunner } from '../flow/queue/queue-runner.ts';
import { messageDeps } from '../mailbox/messages.ts';
import type { Holdfast, RunningService } from './holdfast.ts';

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
    singleNode: store.dialect === 'sqlite',
    host: hostname(),
    now,
  });
  await runner.start();
  const housekeeping = new Housekeeping({
    db: store.db,
    blobs: store.blobs,
    keepFinishedMs: config.queue.keepFinishedMs,
    logger: logger.child({ component: 'housekeeping' }),
    now,
  });
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
