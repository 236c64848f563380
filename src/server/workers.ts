// `holdfast start --workers N`: all cores of one machine. The primary process prepares the store once
// (migrations, first-run bootstrap, the self-signed certificate), then forks N workers (node:cluster),
// each a whole node (worker-node.ts) listening on the same ports: the primary accepts connections
// and hands them to the workers in turn. It relays mailbox changes between workers (IDLE in one sees
// a delivery made by another), keeps the machine-wide counts of the per-address, per-forest and
// per-user limits (machine-limits.ts; a worker that dies gives back what it held) and each remote
// destination's delivery concurrency (flow/delivery/machine-destinations.ts), gathers the
// workers' figures for a scrape of /metrics (metrics-gathering.ts), restarts a worker that dies (with
// backoff), stops them all on SIGTERM/SIGINT, and prints the start-up summary once.
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.ts';
import { bootstrapDirectory, type BootstrapResult } from '../directory/bootstrap.ts';
import { Directory } from '../directory/directory.ts';
import { HoldfastError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { loadTlsMaterial, type TlsMaterial } from '../net/tls-certificate.ts';
import type { MigrationResult } from '../store/migrate.ts';
import { openStore } from '../store/store.ts';
import type { Holdfast } from './holdfast.ts';
import { isDestinationRequest, MachineDestinations } from '../flow/delivery/machine-destinations.ts';
import { MachineLimits } from './machine-limits.ts';
import { MetricsGathering, type Peer } from './metrics-gathering.ts';
import type { Role } from './roles.ts';
import type { RunningNode } from './start.ts';
import { startupSummary, startupSummaryJson } from './startup-summary.ts';
import {
  isHoldfastMessage,
  workerCountVariable,
  workerIndexVariable,
  type PrimaryMessage,
  type WorkerMessage,
} from './worker-messages.ts';

export interface WorkersOptions {
  count: number;
  roles: Role[];
  logger: Logger;
  json: boolean;
}

/** Restart delays: 1 s, doubling up to 30 s for a worker that keeps dying; back to 1 s once one ran a minute. */
const firstRestartDelayMs = 1000;
const longestRestartDelayMs = 30_000;
const healthyRunMs = 60_000;

interface Slot {
  index: number;
  worker?: Worker;
  startedAt: number;
  ready: boolean;
  failures: number;
  restartTimer?: NodeJS.Timeout;
}

export async function runWorkers(config: Config, options: WorkersOptions): Promise<void> {
  const { logger, count } = options;
  const prepared = await prepareStore(config, logger);

  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    index: i + 1,
    startedAt: 0,
    ready: false,
    failures: 0,
  }));
  let stopping = false;
  let started = false;
  let summaryListeners: RunningNode['listeners'] | undefined;
  let startFailed: ((error: Error) => void) | undefined;
  let allReady: (() => void) | undefined;
  const startup = new Promise<void>((resolve, reject) => {
    allReady = resolve;
    startFailed = reject;
  });

  const limits = new MachineLimits();
  const answer = (worker: Worker, message: PrimaryMessage) => {
    if (worker.isConnected()) worker.send(message);
  };
  // A scrape of /metrics in one worker adds up every worker's figures: the primary gathers them.
  const gathering = new MetricsGathering();
  const peer = (worker: Worker): Peer => ({ id: worker.id, send: (message) => answer(worker, message) });
  const gatherFor = (asker: Worker, askId: number) => {
    // A worker still starting (or restarting) has nothing to add yet: it counts as missing.
    const others = slots
      .filter((s) => s.ready && s.worker && s.worker !== asker && s.worker.isConnected())
      .map((s) => peer(s.worker!));
    gathering.ask(peer(asker), askId, others, slots.length - 1 - others.length);
  };

  // Each remote destination's delivery concurrency, for the machine: workers hold slots it grants.
  const destinations = new MachineDestinations(
    (workerId, message) => {
      const worker = slots.find((s) => s.worker?.id === workerId)?.worker;
      if (worker) answer(worker, message);
    },
    // A worker delivers from its start, before it says it is ready.
    () => slots.flatMap((s) => (s.worker && !s.worker.isDead() && s.worker.isConnected() ? [s.worker.id] : [])),
  );

  const relay = (from: Worker, message: string) => {
    const forward: PrimaryMessage = { holdfast: 'change', message };
    for (const slot of slots)
      if (slot.worker && slot.worker !== from && slot.ready && slot.worker.isConnected()) slot.worker.send(forward);
  };

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.ready = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({
      [workerIndexVariable]: String(slot.index),
      [workerCountVariable]: String(slots.length),
    });
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (!isHoldfastMessage<WorkerMessage>(message)) return;
      if (message.holdfast === 'take') {
        // A request read after the worker's exit (which freed its slots) would hold a slot forever.
        const granted = !worker.isDead() && limits.take(worker.id, message.kind, message.key, message.max);
        answer(worker, { holdfast: 'taken', id: message.id, granted });
      } else if (message.holdfast === 'give') limits.give(worker.id, message.kind, message.key);
      else if (message.holdfast === 'metrics-ask') gatherFor(worker, message.id);
      else if (message.holdfast === 'metrics-report') gathering.report(worker.id, message.id, message.figures);
      else if (message.holdfast === 'change') relay(worker, message.message);
      else if (isDestinationRequest(message)) {
        // As with 'take': a request read after the worker's exit would hold a slot forever.
        if (!worker.isDead()) destinations.receive(worker.id, message);
      } else if (message.holdfast === 'ready') {
        slot.ready = true;
        summaryListeners ??= message.listeners;
        logger.info({ worker: slot.index, workerPid: worker.process.pid }, 'worker started');
        if (!started && slots.every((s) => s.ready)) {
          started = true;
          allReady?.();
        }
      } else if (message.holdfast === 'failed') {
        const { kind, code, message: text, stack } = message.error;
        const error = kind && code ? new HoldfastError(kind, code, text) : Object.assign(new Error(text), { stack });
        if (!started) startFailed?.(error);
        else logger.error({ worker: slot.index, err: error }, 'worker could not start');
      }
    });
    // A message sent while the worker's channel closes (it is dying): the exit below says what happened.
    worker.on('error', (error) => logger.debug({ worker: slot.index, err: error }, 'worker channel error'));
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = undefined;
      slot.ready = false;
      // Its connections and sessions ended with it (a restarted worker is a new Worker and holds nothing).
      const released = limits.releaseWorker(worker.id);
      gathering.workerGone(worker.id);
      if (released) logger.info({ worker: slot.index, released }, 'worker exited: its connection slots are free again');
      const deliveries = destinations.workerGone(worker.id);
      if (deliveries)
        logger.info({ worker: slot.index, released: deliveries }, 'worker exited: its delivery slots are free again');
      if (stopping) return;
      if (!started) {
        startFailed?.(new Error(`worker ${slot.index} exited during start (code ${code}, signal ${signal})`));
        return;
      }
      slot.failures = Date.now() - slot.startedAt >= healthyRunMs ? 1 : slot.failures + 1;
      const delayMs = Math.min(longestRestartDelayMs, firstRestartDelayMs * 2 ** (slot.failures - 1));
      logger.error(
        { worker: slot.index, workerPid: worker.process.pid, code, signal, restartInMs: delayMs },
        'worker died; restarting it',
      );
      slot.restartTimer = setTimeout(() => fork(slot), delayMs);
    });
  };

  /**
   * Asks every worker to stop (SIGTERM: each finishes its in-flight work within the shutdown grace);
   * resolves when all have exited, whether all exited cleanly. One still running well after its
   * grace is killed.
   */
  const stopAll = async (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping = true;
    destinations.stop();
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const running = slots.map((s) => s.worker).filter((w): w is Worker => w !== undefined && !w.isDead());
    const exits = running.map(
      (worker) =>
        new Promise<number>((resolve) => {
          worker.once('exit', (code) => resolve(code ?? 1));
          worker.process.kill(signal);
        }),
    );
    const overdue = setTimeout(() => {
      logger.error('workers still running long after the shutdown grace: killing them');
      for (const worker of running) if (!worker.isDead()) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 10_000);
    try {
      return (await Promise.all(exits)).every((code) => code === 0);
    } finally {
      clearTimeout(overdue);
    }
  };

  // Workers run this same program (the argv of `holdfast start`) and find their number in the environment.
  cluster.setupPrimary({ silent: false });
  for (const slot of slots) fork(slot);
  try {
    await startup;
  } catch (error) {
    await stopAll('SIGKILL');
    throw error;
  }

  let signalled = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: stopping the workers now');
      await stopAll('SIGKILL');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal, workers: count }, 'signal received: stopping the workers');
    const clean = await stopAll();
    logger.info('stopped');
    logger.flush?.();
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', (signal) => void onSignal(signal));
  process.on('SIGINT', (signal) => void onSignal(signal));

  // The summary of the whole machine, as one node prints its own (the pid is the primary's: it is
  // the process to signal), with the primary's migration and first-run results.
  const summarised = {
    holdfast: { config, tls: prepared.tls } satisfies Pick<Holdfast, 'config' | 'tls'>,
    roles: options.roles,
    listeners: summaryListeners ?? [],
    migration: prepared.migration,
    bootstrap: prepared.bootstrap,
  } as unknown as RunningNode; // startupSummary reads only these fields
  const pids = slots.map((s) => s.worker?.process.pid ?? 0);
  if (options.json) process.stdout.write(`${JSON.stringify({ ...startupSummaryJson(summarised), workers: pids })}\n`);
  else {
    const [first, ...rest] = startupSummary(summarised).split('\n');
    process.stdout.write([first, `  workers ${count} (pids ${pids.join(', ')})`, ...rest].join('\n'));
  }
}

/**
 * What must happen once, before the workers start together: migrations (they take a lock anyway, but
 * each worker would also keep its own backup copy), the first-run bootstrap (whose generated
 * password is shown once) and the self-signed certificate (each worker would make another).
 */
async function prepareStore(
  config: Config,
  logger: Logger,
): Promise<{ migration: MigrationResult; bootstrap: BootstrapResult; tls: TlsMaterial }> {
  const { store, migration, madePrivate } = await openStore({
    location: config.database,
    dataDir: config.dataDir,
    tightenAll: true,
  });
  try {
    if (madePrivate)
      logger.warn(
        { count: madePrivate, dataDir: config.dataDir },
        `made ${madePrivate} files and directories in the data dir private to Holdfast's user (other local users could read them)`,
      );
    if (migration.from !== migration.to)
      logger.info({ from: migration.from, to: migration.to, backup: migration.backup }, 'store schema migrated');
    const bootstrap = await bootstrapDirectory(new Directory(store.db), {
      domain: config.domain,
      adminPassword: config.adminPassword,
    });
    if (bootstrap.created)
      logger.info({ domain: bootstrap.domain, admin: bootstrap.adminAddress }, 'first run: directory bootstrapped');
    return { migration, bootstrap, tls: await loadTlsMaterial(config) };
  } finally {
    await store.close();
  }
}
