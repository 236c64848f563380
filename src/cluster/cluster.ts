// This node's part in the cluster: its registration and heartbeat (node-registry.ts) and the
// singleton jobs it may run (singletons.ts). Made by server/start.ts; with SQLite the one node
// simply always holds every lease.
import type { Kysely } from 'kysely';
import type { ClusterSettings } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../store/schema.ts';
import { NodeRegistry } from './node-registry.ts';
import { Singletons, withinMs } from './singletons.ts';
import { StoreBackoff } from './store-backoff.ts';

/** How long a clean stop may take before the node stops without saying so. */
const stopBoundMs = 10_000;

export interface ClusterDeps {
  db: Kysely<Database>;
  settings: ClusterSettings;
  /** [hostname]: the name service health uses for this node. */
  name: string;
  roles: readonly string[];
  version: string;
  logger: Logger;
  now(): number;
}

export class Cluster {
  readonly registry: NodeRegistry;
  readonly singletons: Singletons;

  private readonly logger: Logger;

  constructor(deps: ClusterDeps) {
    this.logger = deps.logger;
    const { settings } = deps;
    const backoff = new StoreBackoff(settings.leaseMs);
    this.registry = new NodeRegistry({ ...deps, backoff, heartbeatMs: settings.heartbeatMs });
    this.singletons = new Singletons({
      db: deps.db,
      backoff,
      nodeId: this.registry.id,
      heartbeatMs: settings.heartbeatMs,
      leaseMs: settings.leaseMs,
      logger: deps.logger,
      now: deps.now,
    });
  }

  get nodeId(): string {
    return this.registry.id;
  }

  /** Registers the node; call start() once the services have added their singleton jobs. */
  async register() {
    await this.registry.register();
    this.registry.start();
  }

  /** Starts contending for the singleton leases. */
  start() {
    this.singletons.start();
  }

  /** Stops heartbeats and renewals without a word: how a hung or cut-off node looks to the others (drills, tests). */
  freeze() {
    this.registry.freeze();
    this.singletons.freeze();
  }

  /** A clean stop: running singleton jobs finish, leases are released, the node is marked stopped. */
  async stop() {
    // Bounded: with the store gone, the others see this node silent and its leases run out.
    await withinMs(
      (async () => {
        await this.singletons.stop();
        await this.registry.stop();
      })().catch((error) =>
        this.logger.warn({ err: error }, 'cluster: could not say this node stopped; the others see it silent'),
      ),
      stopBoundMs,
    );
  }
}
