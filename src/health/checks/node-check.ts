// The nodes sharing the store (cluster/node-registry.ts), judged by the node that runs the shared
// health checks: a node that neither beats nor said it stopped is an advisory on the Nodes
// component, never an incident of mail flow: the other nodes carry its work once its leases run
// out, and the listener and probe checks of the nodes still running say whether mail still flows.
import type { ClusterNode } from '../../cluster/node-registry.ts';
import type { CheckResult } from '../check-result.ts';
import type { ProbeContext } from './probe-context.ts';

export const nodeCheckRule = (id: string) => `node:${id}`;

export function checkNodes(context: ProbeContext, nodes: ClusterNode[]): CheckResult[] {
  const now = context.now();
  return nodes
    .filter((n) => n.state !== 'stopped')
    .map((n) => {
      const who = `${n.id} (${n.name}: host ${n.host}, pid ${n.pid}, roles ${n.roles.join(',') || 'none'})`;
      const quietS = Math.round((now - n.heartbeatAt) / 1000);
      return {
        rule: nodeCheckRule(n.id),
        component: 'Nodes' as const,
        state: n.state === 'silent' ? ('failing' as const) : ('healthy' as const),
        detail:
          n.state === 'silent'
            ? `Node ${who} has sent no heartbeat for ${quietS} s (since ${new Date(n.heartbeatAt).toISOString()}; it beats every ${n.heartbeatMs / 1000} s) and did not stop cleanly. Its singleton jobs and queue leases pass to other nodes as their leases run out. If it is gone for good: holdfast cluster forget ${n.id}.`
            : `Node ${who} last beat ${quietS} s ago.`,
        issue: {
          classification: 'advisory' as const,
          origin: 'customer' as const,
          title: `Node ${n.name} (host ${n.host}, pid ${n.pid}) stopped responding`,
          impact:
            'The other nodes carry on: they take over its queued deliveries and its once-only jobs within minutes. Connections it had are lost and clients reconnect to another node.',
          feature: 'Nodes',
          publicSummary: 'One server is not responding; the others carry its work',
          scope: { tenants: [], forests: [], regions: [context.settings.region], nodes: [n.name] },
        },
      };
    });
}
