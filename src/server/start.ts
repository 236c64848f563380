// Starting and stopping one Holdfast node: open the store (migrating it), bootstrap a first run,
// start the services of the requested roles, and stop them in order, within a bound.
import { Scheduler } from '../calendar/scheduling/scheduler.ts';
import { Cluster } from '../cluster/cluster.ts';
import { version } from '../version.ts';
import { HealthMonitor } from '../health/health-monitor.ts';
import { watchBackups } from '../backup/backup-metrics.ts';
import { watchQueue } from '../flow/queue/queue-metrics.ts';
import { Metrics } from '../metrics/metrics.ts';
import { PostgresChannel } from '../store/postgres-channel.ts';
import { createImipLimitCheck, createImipSender } from '../flow/imip-sender.ts';
import { probeTenantLimits } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { bootstrapDirectory, type BootstrapResult } from '../directory/bootstrap.ts';
import { Directory } from '../directory/directory.ts';
import { kdfQueue } from '../directory/kdf-queue.ts';
import { createMailDns, type MailDns } from '../flow/dns.ts';
import { DestinationControl, type DestinationObserver } from '../flow/delivery/destination-control.ts';
import { UpstreamWatch } from '../continuity/upstream-watch.ts';
import { watchContinuity } from '../continuity/continuity-metrics.ts';
import { expiryStarts } from '../continuity/held-expiry.ts';
import { createMailFlow } from '../flow/mail-flow.ts';
import { LoginLimiter, loginLimits } from '../directory/login-limiter.ts';
import { isProbeAddress } from '../health/checks/probe-account.ts';
import { ChangeFeed } from '../mailbox/change-feed.ts';
import { FolderIndex } from '../mailbox/folder-index.ts';
import type { MigrationResult } from '../store/migrate.ts';
import { openStore } from '../store/store.ts';
import { messageDeps } from '../mailbox/messages.ts';
import type { Holdfast, RunningService } from './holdfast.ts';
import type { MachineLimitsClient } from './machine-limits-client.ts';
import type { MachineMetricsClient } from './machine-metrics-client.ts';
import type { ListenerInfo } from '../net/listen.ts';
import type { Logger } from '../logging/logger.ts';
import type { Role } from './roles.ts';
import { serviceByRole } from './services.ts';
import { loadTlsMaterial } from '../net/tls-certificate.ts';

export interface RunningNode {
  holdfast: Holdfast;
  roles: Role[];
  listeners: ListenerInfo[];
  migration: MigrationResult;
  bootstrap: BootstrapResult;
  /** Stop accepting, let in-flight work finish (up to the shutdown grace), close the store. */
  stop(): Promise<void>;
  /** Stops one role's service and leaves the rest running (what an operator sees as a failed part). */
  stopRole(role: Role): Promise<void>;
}

export interface StartOptions {
  roles: Role[];
  logger: Logger;
  now?: () => number;
  /** DNS for mail (tests inject one); default: HOLDFAST_DNS_SERVERS or the system's resolvers. */
  dns?: MailDns;
  /** A worker of --workers: the primary counts the per-address, per-forest and per-user limits for the machine. */
  machineLimits?: MachineLimitsClient;
  /** A worker of --workers: /metrics answers with the figures of every worker of the machine. */
  machineMetrics?: MachineMetricsClient;
  /** A worker of --workers: the remote destinations' concurrency, kept by the primary for the machine. */
  destinations?: (now: () => number, observer: DestinationObserver) => DestinationControl;
}

export async function startNode(config: Config, options: StartOptions): Promise<RunningNode> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const { store, migration, madePrivate } = await openStore({
    location: config.database,
    dataDir: config.dataDir,
    now,
    // A worker of --workers: the primary has tightened the data dir before it started the workers.
    tightenAll: options.machineLimits === undefined,
    backgroundCheckpoints: true,
    onCheckpointError: (error) => logger.warn({ error }, 'WAL checkpoint failed; retrying'),
  });
  if (migration.from !== migration.to)
    logger.info({ from: migration.from, to: migration.to, backup: migration.backup }, 'store schema migrated');
  if (madePrivate)
    logger.warn(
      { count: madePrivate, dataDir: config.dataDir },
      `made ${madePrivate} files and directories in the data dir private to Holdfast's user (other local users could read them)`,
    );

  const services: RunningService[] = [];
  let holdfast: Holdfast | undefined;
  // Registered first, so `holdfast cluster status` shows a node from its start; its singleton leases
  // are contended for once every service has added its jobs.
  const cluster = new Cluster({
    db: store.db,
    settings: config.cluster,
    name: config.hostname,
    roles: options.roles,
    version,
    logger: logger.child({ component: 'cluster' }),
    now,
  });
  let clusterJoined = false;
  try {
    await cluster.register();
    clusterJoined = true;
    logger.info({ node: cluster.nodeId, roles: options.roles }, 'cluster: node registered');
    // The sign-in path ([auth]): this process's queue for password hashing, the directory's cache of verified sign-ins.
    kdfQueue.configure({ concurrency: config.auth.kdfConcurrency, maxWaiting: config.auth.kdfQueue });
    const directory = new Directory(store.db, now, {
      maxEntries: config.auth.cacheSize,
      ttlMs: config.auth.cacheTtlMs,
    });
    const bootstrap = await bootstrapDirectory(directory, {
      domain: config.domain,
      adminPassword: config.adminPassword,
    });
    if (bootstrap.created)
      logger.info({ domain: bootstrap.domain, admin: bootstrap.adminAddress }, 'first run: directory bootstrapped');
    for (const tenant of Object.keys(config.tenantLimits).filter((t) => !(t in probeTenantLimits))) {
      await directory
        .getTenant(tenant)
        .catch(() => logger.warn({ tenant }, `[tenant_limits.${tenant}] names no tenant; its limits apply to nobody`));
    }
    const tls = await loadTlsMaterial(config);
    const metrics = new Metrics();
    options.machineMetrics?.attach(metrics);
    metrics.watchSignIns(() => directory.signInStats());
    watchQueue(metrics, store.db, now);
    watchBackups(metrics, store.db, now);
    watchContinuity(metrics, store, config.continuity, now);
    const flow = createMailFlow({
      config,
      store,
      directory,
      metrics,
      log: logger.child({ component: 'mail' }),
      filterLog: logger.child({ component: 'filtering' }),
      // Mail held for a continuity upstream does not expire while its event lasts.
      expiryClock:
        config.continuity.upstreams.length > 0
          ? (items) => expiryStarts(store.db, config.continuity, items)
          : undefined,
      now,
    });
    const scheduler = new Scheduler({
      db: store.db,
      directory,
      now,
      log: logger.child({ component: 'calendar' }),
      sendImip: createImipSender({ config, directory, blobs: store.blobs, flow, now }),
      checkSending: createImipLimitCheck(flow.senderLimits),
      maxAttendees: config.caldav.maxAttendees,
    });
    const dns = options.dns ?? createMailDns(config.dnsServers);
    const health = new HealthMonitor({
      config,
      db: store.db,
      mail: () => messageDeps(holdfast!),
      directory,
      dns,
      metrics,
      logger: logger.child({ component: 'health' }),
      now,
      cluster,
    });
    // The queue's attempts at continuity upstreams are observed as they are released (continuity/).
    const upstreamWatch = new UpstreamWatch(config.continuity, config.relays, now);
    holdfast = {
      config,
      store,
      directory,
      logger,
      tls,
      now,
      dns,
      flow,
      scheduler,
      metrics,
      health,
      destinations:
        options.destinations?.(now, upstreamWatch.observer) ??
        new DestinationControl(now, undefined, upstreamWatch.observer),
      upstreamWatch,
      cluster,
      machineLimits: options.machineLimits,
      changes: new ChangeFeed(),
      folderIndex: new FolderIndex(),
      logins: new LoginLimiter(store.db, loginLimits(config.limits.authFailures), now, isProbeAddress),
    };
    if (config.database.kind === 'postgres') services.push(await relayChanges(holdfast, config.database.url));
    const byRole = new Map<Role, RunningService>();
    for (const role of options.roles) {
      const service = await serviceByRole[role](holdfast);
      services.push(service);
      byRole.set(role, service);
    }
    const listeners = services.flatMap((s) => s.listeners);
    for (const l of listeners) logger.info({ listener: l.name, host: l.host, port: l.port }, 'listening');
    cluster.start();
    health.start(listeners);
    const context = holdfast;
    const stopRole = async (role: Role) => {
      const service = byRole.get(role);
      if (!service) return;
      byRole.delete(role);
      services.splice(services.indexOf(service), 1);
      await service.close();
    };
    return {
      holdfast: context,
      roles: options.roles,
      listeners,
      migration,
      bootstrap,
      stop: () => stopNode(context, services),
      stopRole,
    };
  } catch (error) {
    await Promise.all(services.map((s) => s.close().catch(() => {})));
    if (clusterJoined) await cluster.stop().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

/** Mailbox changes travel between the nodes sharing the database (IDLE on one node, delivery on another). */
async function relayChanges(holdfast: Holdfast, url: string): Promise<RunningService> {
  const channel = await new PostgresChannel(
    url,
    'holdfast_mailbox_changes',
    (message) => holdfast.changes.receive(message),
    holdfast.logger.child({ component: 'change-feed' }),
  ).start();
  holdfast.changes.connect({ send: (message) => channel.notify(message) });
  return {
    listeners: [],
    close: async () => {
      holdfast.changes.connect(undefined);
      await channel.stop();
    },
  };
}

async function stopNode(holdfast: Holdfast, services: RunningService[]) {
  const { logger, config } = holdfast;
  logger.info({ graceMs: config.shutdownGraceMs }, 'stopping: no new connections, finishing in-flight work');
  await holdfast.health.stop();
  let timer: NodeJS.Timeout | undefined;
  const graceful = Promise.all(services.map((s) => s.close())).then(() => 'finished' as const);
  const deadline = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), config.shutdownGraceMs)),
  );
  const outcome = await Promise.race([graceful, deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn('shutdown grace period over: closing what is still open');
    services.forEach((s) => s.forceClose?.());
    await graceful.catch(() => {});
  }
  // After the services: a singleton job still running finishes, then its lease goes to another node at once.
  await holdfast.cluster.stop();
  await holdfast.store.close();
  logger.info('stopped');
}
