// The nodes sharing one store, each a Holdfast process: registered at start under a random id,
// alive while its heartbeat is fresh, marked stopped on a clean stop. A node that neither beats nor
// stopped died or hangs: service health reports it (health/checks/node-check.ts), and
// `holdfast cluster forget` removes it once it is known to be gone for good.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { conflict, notFound } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { ClusterNodeTable, Database } from '../store/schema.ts';
import type { StoreBackoff } from './store-backoff.ts';
import { isProcessAlive } from '../processes.ts';

/** Heartbeats a node may miss before it counts as silent (a slow round or a busy store is not a lost node). */
export const silentAfterBeats = 3;
/** Stopped nodes are listed this long, then forgotten. */
const keepStoppedMs = 7 * 86_400_000;

export type NodeState = 'running' | 'silent' | 'stopped';

export interface ClusterNode {
  id: string;
  host: string;
  /** The name service health knows it by ([hostname]). */
  name: string;
  pid: number;
  roles: string[];
  version: string;
  heartbeatMs: number;
  startedAt: number;
  heartbeatAt: number;
  stoppedAt: number | null;
  state: NodeState;
}

export interface NodeRegistryDeps {
  db: Kysely<Database>;
  /** Shared with the singleton leases: while the store fails writes, tries are spaced out. */
  backoff: StoreBackoff;
  /** [hostname]: the name service health uses for this node. */
  name: string;
  roles: readonly string[];
  version: string;
  heartbeatMs: number;
  logger: Logger;
  now(): number;
}

export class NodeRegistry {
  /** Unique per process: several processes on one host (workers) are several nodes. */
  readonly id = randomBytes(4).toString('hex');
  readonly host = hostname();
  readonly pid = process.pid;
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;

  constructor(private readonly deps: NodeRegistryDeps) {}

  /** Registers this node, and marks stopped the silent nodes of this host whose process is gone. */
  async register() {
    const { db, now } = this.deps;
    const at = now();
    await db.insertInto('cluster_nodes').values(this.row(at)).execute();
    await this.markEndedProcesses(at);
    await db
      .deleteFrom('cluster_nodes')
      .where('stopped_at', 'is not', null)
      .where('stopped_at', '<', at - keepStoppedMs)
      .execute();
  }

  /** Beats every [cluster] heartbeat until stop(). */
  start() {
    // Said once when heartbeats begin to fail (the store unreachable) and once when they work again.
    let failingSince: number | undefined;
    const { backoff } = this.deps;
    this.timer = setInterval(() => {
      if (this.beating || backoff.waiting) return;
      this.beating = this.beat()
        .then(() => {
          backoff.succeeded();
          if (failingSince === undefined) return;
          this.deps.logger.info({ silentMs: this.deps.now() - failingSince }, 'cluster: heartbeats work again');
          failingSince = undefined;
        })
        .catch((error) => {
          backoff.failed();
          if (failingSince !== undefined) return;
          failingSince = this.deps.now();
          this.deps.logger.warn({ err: error }, 'cluster: heartbeat failed; trying again');
        })
        .finally(() => (this.beating = undefined));
    }, this.deps.heartbeatMs);
    this.timer.unref();
  }

  /**
   * A process of this host that died without stopping (killed, crashed; a worker that is restarted)
   * is not coming back: once silent it is marked stopped, rather than reported as a silent node
   * until someone forgets it. Other hosts' nodes are judged by their silence alone.
   */
  private async markEndedProcesses(at: number) {
    const { db } = this.deps;
    const candidates = await db
      .selectFrom('cluster_nodes')
      .select(['id', 'pid', 'heartbeat_at', 'heartbeat_ms', 'stopped_at'])
      .where('host', '=', this.host)
      .where('stopped_at', 'is', null)
      .where('id', '!=', this.id)
      .execute();
    const gone = candidates
      .filter((n) => stateOf(n, at) === 'silent' && !isProcessAlive(Number(n.pid)))
      .map((n) => n.id);
    if (gone.length === 0) return;
    await db.updateTable('cluster_nodes').set({ stopped_at: at }).where('id', 'in', gone).execute();
    this.deps.logger.info({ nodes: gone }, 'cluster: nodes of this host whose process ended are marked stopped');
  }

  async beat() {
    const at = this.deps.now();
    await this.markEndedProcesses(at);
    const updated = await this.deps.db
      .updateTable('cluster_nodes')
      .set({ heartbeat_at: at, stopped_at: null })
      .where('id', '=', this.id)
      .executeTakeFirst();
    // Forgotten while alive (`holdfast cluster forget` on a node that only hung): it is back.
    if (Number(updated.numUpdatedRows) === 0)
      await this.deps.db.insertInto('cluster_nodes').values(this.row(at)).execute();
  }

  /**
   * Stops beating without saying so: what a hung or partitioned process looks like to the others
   * (drills and tests). The node's leases run out; it is reported silent.
   */
  freeze() {
    clearInterval(this.timer);
  }

  /** A clean stop: the others see the node stopped, not silent. */
  async stop() {
    clearInterval(this.timer);
    await this.beating;
    // A store failing writes would keep the try waiting: the others see the node silent instead.
    if (this.deps.backoff.waiting) return;
    await this.deps.db
      .updateTable('cluster_nodes')
      .set({ stopped_at: this.deps.now() })
      .where('id', '=', this.id)
      .execute();
  }

  private row(at: number): ClusterNodeTable {
    return {
      id: this.id,
      host: this.host,
      name: this.deps.name,
      pid: this.pid,
      roles: this.deps.roles.join(','),
      version: this.deps.version,
      heartbeat_ms: this.deps.heartbeatMs,
      started_at: at,
      heartbeat_at: at,
      stopped_at: null,
    };
  }
}

function stateOf(row: Pick<ClusterNodeTable, 'stopped_at' | 'heartbeat_at' | 'heartbeat_ms'>, now: number): NodeState {
  if (row.stopped_at !== null) return 'stopped';
  return now - Number(row.heartbeat_at) > silentAfterBeats * Number(row.heartbeat_ms) ? 'silent' : 'running';
}

/** Every registered node, the running ones first, newest first. */
export async function listNodes(db: Kysely<Database>, now: number): Promise<ClusterNode[]> {
  const rows = await db.selectFrom('cluster_nodes').selectAll().orderBy('started_at', 'desc').execute();
  const order: Record<NodeState, number> = { running: 0, silent: 1, stopped: 2 };
  return rows
    .map((r) => ({
      id: r.id,
      host: r.host,
      name: r.name,
      pid: Number(r.pid),
      roles: r.roles ? r.roles.split(',') : [],
      version: r.version,
      heartbeatMs: Number(r.heartbeat_ms),
      startedAt: Number(r.started_at),
      heartbeatAt: Number(r.heartbeat_at),
      stoppedAt: r.stopped_at === null ? null : Number(r.stopped_at),
      state: stateOf(r, now),
    }))
    .sort((a, b) => order[a.state] - order[b.state]);
}

/**
 * Removes a node that is gone for good (its machine was retired): it is no longer reported silent.
 * A running node is refused: it would only register again at its next heartbeat.
 */
export async function forgetNode(db: Kysely<Database>, id: string, now: number): Promise<ClusterNode> {
  const node = (await listNodes(db, now)).find((n) => n.id === id.trim());
  if (!node) throw notFound('no-such-node', `no node ${id} in the cluster; \`holdfast cluster status\` lists them`);
  if (node.state === 'running') {
    throw conflict(
      'node-running',
      `node ${node.id} (${node.host}, pid ${node.pid}) is running: its last heartbeat was ${Math.round((now - node.heartbeatAt) / 1000)} s ago; stop it first`,
    );
  }
  await db.deleteFrom('cluster_nodes').where('id', '=', node.id).execute();
  return node;
}
