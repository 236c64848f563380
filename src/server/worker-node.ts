// One worker of `holdfast start --workers N`: a whole node (startNode) in a process forked by the
// primary (workers.ts). Its listeners are the primary's, shared through node:cluster. On SQLite its
// mailbox changes travel to the other workers through the primary (on PostgreSQL, startNode's
// LISTEN/NOTIFY relay already carries them between every process, on this machine or another).
// The machine-wide limits, the machine's /metrics figures and the remote destinations' delivery
// concurrency go through the primary too (machine-limits-client.ts, machine-metrics-client.ts,
// flow/delivery/worker-destinations.ts). It stops on SIGTERM from the primary.
import { HoldfastError } from '../errors.ts';
import { defaultKdfConcurrency } from '../directory/kdf-queue.ts';
import type { Config } from '../config/schema.ts';
import type { DestinationObserver } from '../flow/delivery/destination-control.ts';
import type { Logger } from '../logging/logger.ts';
import type { Role } from './roles.ts';
import { MachineLimitsClient, type PrimaryChannel } from './machine-limits-client.ts';
import { MachineMetricsClient } from './machine-metrics-client.ts';
import { WorkerDestinations } from '../flow/delivery/worker-destinations.ts';
import { startNode, type RunningNode } from './start.ts';
import { isHoldfastMessage, type PrimaryMessage, type WorkerMessage } from './worker-messages.ts';

/** The cluster channel to the primary, for requests that want to know whether they were handed over. */
const toPrimary: PrimaryChannel = {
  connected: () => process.connected === true && process.send !== undefined,
  send: (message, done) => {
    if (!process.send) return done(new Error('no channel to the primary'));
    process.send(message, undefined, {}, (error) => done(error ?? null));
  },
};

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

export async function runWorker(
  config: Config,
  options: { roles: Role[]; logger: Logger; index: number; count: number },
) {
  const logger = options.logger.child({ worker: options.index });
  // Password hashes are pure CPU: the workers share the machine's cores, so each takes its share
  // unless [auth] kdf_concurrency says otherwise.
  config.auth.kdfConcurrency ??= Math.max(1, Math.floor(defaultKdfConcurrency() / Math.max(1, options.count || 1)));
  // Per-address, per-forest and per-user limits hold for the machine: the primary keeps the counts.
  const machineLimits = new MachineLimitsClient(toPrimary, logger);
  // A scrape of /metrics answers with every worker's figures added up: the primary gathers them.
  const machineMetrics = new MachineMetricsClient(toPrimary, options.count, logger);
  // Each remote destination's delivery concurrency holds for the machine: the primary keeps the control.
  let destinations: WorkerDestinations | undefined;
  const machineDestinations = (now: () => number, observer: DestinationObserver) =>
    (destinations = new WorkerDestinations(toPrimary, logger.child({ component: 'queue' }), now, undefined, observer));
  process.on('message', (message) => {
    if (isHoldfastMessage<PrimaryMessage>(message))
      machineLimits.receive(message) || machineMetrics.receive(message) || destinations?.receive(message);
  });
  let node: RunningNode;
  try {
    node = await startNode(config, {
      roles: options.roles,
      logger,
      machineLimits,
      machineMetrics,
      destinations: machineDestinations,
    });
  } catch (error) {
    const e = error as Error;
    await send({
      holdfast: 'failed',
      error:
        error instanceof HoldfastError
          ? { kind: error.kind, code: error.code, message: error.message }
          : { message: e?.message ?? String(error), stack: e?.stack },
    });
    logger.flush?.();
    process.exit(1);
  }

  if (config.database.kind === 'sqlite') {
    const { changes } = node.holdfast;
    changes.connect({ send: (message) => send({ holdfast: 'change', message }) });
    process.on('message', (message) => {
      if (isHoldfastMessage<PrimaryMessage>(message) && message.holdfast === 'change') changes.receive(message.message);
    });
  }

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'worker stopping');
    try {
      await node.stop();
      logger.flush?.();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'worker shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Ctrl-C reaches every process of the terminal's group: the primary answers it by sending SIGTERM
  // to each worker, so a worker ignores SIGINT itself (else it would take that SIGTERM for a second
  // signal and exit without finishing its work).
  process.on('SIGINT', () => {});
  // A worker whose primary is gone (killed) is ended by node:cluster itself at once, as by a crash:
  // what it accepted is stored, and its deliveries in flight are taken over once their leases end.
  await send({ holdfast: 'ready', roles: node.roles, listeners: node.listeners });
}
