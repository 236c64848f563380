// holdfast cluster — the nodes sharing this store: which run, their roles and heartbeats, the
// queue leases each holds, and which node runs each singleton job (housekeeping, delay notices,
// the shared health checks); `forget` removes a node that is gone for good.
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { forgetNode, listNodes, type ClusterNode } from '../cluster/node-registry.ts';
import { leasesByOwner } from '../flow/queue/lease-owners.ts';
import type { Database } from '../store/schema.ts';
import { action, withDirectory } from './context.ts';
import { print, table, timeText } from './output.ts';

interface NodeStatus extends Omit<ClusterNode, 'startedAt' | 'heartbeatAt' | 'stoppedAt'> {
  startedAt: string;
  heartbeatAt: string;
  stoppedAt: string | null;
  /** Seconds since the last heartbeat. */
  heartbeatAgeS: number;
  /** Recipients this node's queue runner holds leases on (in flight). */
  queueLeases: number;
  /** The singleton jobs it holds. */
  singletons: string[];
}

interface SingletonStatus {
  name: string;
  /** The node holding the lease, while it has not run out. */
  holder: string | null;
  /** The node that held it last, when the lease ran out or was released. */
  lastHolder: string | null;
  token: number;
  state: 'held' | 'expired' | 'released';
  acquiredAt: string;
  expiresAt: string;
  lastRunAt: string | null;
}

interface ClusterStatus {
  checkedAt: string;
  nodes: NodeStatus[];
  singletons: SingletonStatus[];
  /** Queue leases whose owner is no registered node (a process of a version before the registry). */
  otherQueueLeases: { owner: string; recipients: number; expiresAt: string }[];
}

export function registerClusterCommands(program: Command) {
  const cluster = program
    .command('cluster')
    .description('the nodes sharing this store: roles, heartbeats, queue leases, singleton jobs');

  action<[]>(
    cluster
      .command('status', { isDefault: true })
      .description('nodes (roles, heartbeat, state, queue leases) and which node runs each singleton job'),
    (options) =>
      withDirectory(async ({ store }) => {
        const status = await clusterStatus(store.db, Date.now());
        print(options, status, () => statusText(status));
      }),
  );

  action<[string]>(
    cluster
      .command('forget <node>')
      .description('remove a node that is gone for good (it is no longer reported silent); a running node is refused'),
    (id, options) =>
      withDirectory(async ({ store }) => {
        const node = await forgetNode(store.db, id, Date.now());
        print(
          options,
          { forgotten: node.id, host: node.host, pid: node.pid, state: node.state },
          () => `forgot node ${node.id} (${node.host}, pid ${node.pid}, ${node.state})`,
        );
      }),
  );
}

async function clusterStatus(db: Kysely<Database>, now: number): Promise<ClusterStatus> {
  const nodes = await listNodes(db, now);
  const leases = await db.selectFrom('singleton_leases').selectAll().orderBy('name').execute();
  const owners = await leasesByOwner(db);
  // A queue lease owner is "<host>/<pid>/<random>": the node of that host and pid not stopped, or else the newest.
  const nodeOf = (host: string, pid: number) =>
    nodes.find((n) => n.host === host && n.pid === pid && n.state !== 'stopped') ??
    nodes.find((n) => n.host === host && n.pid === pid);
  const queueLeases = new Map<string, number>();
  const other: ClusterStatus['otherQueueLeases'] = [];
  for (const o of owners) {
    const node = nodeOf(o.host, o.pid);
    if (node) queueLeases.set(node.id, (queueLeases.get(node.id) ?? 0) + o.recipients);
    else other.push({ owner: o.owner, recipients: o.recipients, expiresAt: timeText(o.expiresAt) });
  }
  const singletons: SingletonStatus[] = leases.map((l) => {
    const expired = Number(l.expires_at) <= now;
    return {
      name: l.name,
      holder: expired ? null : l.holder,
      lastHolder: expired ? l.holder : null,
      token: Number(l.token),
      state: l.holder === null ? 'released' : expired ? 'expired' : 'held',
      acquiredAt: timeText(Number(l.acquired_at)),
      expiresAt: timeText(Number(l.expires_at)),
      lastRunAt: l.last_run_at === null ? null : timeText(Number(l.last_run_at)),
    };
  });
  return {
    checkedAt: timeText(now),
    nodes: nodes.map((n) => ({
      ...n,
      startedAt: timeText(n.startedAt),
      heartbeatAt: timeText(n.heartbeatAt),
      stoppedAt: n.stoppedAt === null ? null : timeText(n.stoppedAt),
      heartbeatAgeS: Math.max(0, Math.round((now - n.heartbeatAt) / 1000)),
      queueLeases: queueLeases.get(n.id) ?? 0,
      singletons: singletons.filter((s) => s.holder === n.id).map((s) => s.name),
    })),
    singletons,
    otherQueueLeases: other,
  };
}

function statusText(status: ClusterStatus): string {
  const running = status.nodes.filter((n) => n.state === 'running').length;
  const silent = status.nodes.filter((n) => n.state === 'silent');
  const lines = [
    `Nodes: ${running} running${silent.length ? `, ${silent.length} silent` : ''}, ${status.nodes.length - running - silent.length} stopped`,
    table(
      [
        'NODE',
        'HOST',
        'PID',
        'NAME',
        'ROLES',
        'VERSION',
        'STATE',
        'STARTED',
        'LAST HEARTBEAT',
        'QUEUE LEASES',
        'SINGLETONS',
      ],
      status.nodes.map((n) => [
        n.id,
        n.host,
        n.pid,
        n.name,
        n.roles.join(',') || '-',
        n.version,
        n.state,
        n.startedAt,
        n.state === 'stopped' ? `stopped ${n.stoppedAt}` : `${n.heartbeatAt} (${n.heartbeatAgeS}s ago)`,
        n.queueLeases,
        n.singletons.join(',') || '-',
      ]),
    ),
    '',
    'Singleton jobs:',
    table(
      ['JOB', 'HOLDER', 'TOKEN', 'STATE', 'EXPIRES', 'LAST RUN'],
      status.singletons.map((s) => [
        s.name,
        s.holder ?? (s.lastHolder ? `(was ${s.lastHolder})` : '-'),
        s.token,
        s.state,
        s.expiresAt,
        s.lastRunAt,
      ]),
    ),
  ];
  if (status.otherQueueLeases.length)
    lines.push(
      '',
      'Queue leases of processes not registered as nodes:',
      table(
        ['OWNER', 'RECIPIENTS', 'EXPIRES'],
        status.otherQueueLeases.map((o) => [o.owner, o.recipients, o.expiresAt]),
      ),
    );
  for (const n of silent)
    lines.push(
      '',
      `Node ${n.id} (${n.host}, pid ${n.pid}) has sent no heartbeat for ${n.heartbeatAgeS}s; if it is gone for good: holdfast cluster forget ${n.id}`,
    );
  return lines.join('\n');
}
