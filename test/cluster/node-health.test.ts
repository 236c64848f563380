// Service health across nodes (issue 17 item 3), on one PostgreSQL database with short heartbeats,
// leases and probe rounds: a node that stops beating without stopping is an advisory on the Nodes
// component (never an outage of mail flow on the status page), and the advisory resolves once the
// node is forgotten; a node that leaves cleanly while one of its own checks failed does not leave
// its incident open on the status page. Time bounds are hang detectors, not measurements.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { forgetNode } from '../../src/cluster/node-registry.ts';
import { nodeCheckRule } from '../../src/health/checks/node-check.ts';
import { components } from '../../src/health/components.ts';
import { IssueLog } from '../../src/health/issue-log.ts';
import type { Role } from '../../src/server/roles.ts';
import { createBackend, postgresSkip, type TestBackend } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const toml = `[cluster]
heartbeat = "200ms"
lease = "1s"
[health]
probe_interval = "500ms"
open_after = "1s"
resolve_after = "1s"
`;

describe('nodes in service health', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  const nodes: TestNode[] = [];
  const start = async (roles: Role[], hostname = 'mail.test.example') => {
    const t = await startTestNode('postgres', {
      backend,
      roles,
      toml,
      env: { HOLDFAST_HEALTH: 'true', HOLDFAST_HOSTNAME: hostname },
    });
    nodes.push(t);
    return t;
  };
  const issues = () => new IssueLog(nodes[0]!.node.holdfast.store.db, Date.now);

  before(async () => {
    backend = await createBackend('postgres');
    await start(['queue']);
    await start(['queue']);
  });
  after(async () => {
    for (const t of nodes) await t.stop().catch(() => {});
    await backend.cleanup();
  });

  it('reports a node that stops beating as an advisory on Nodes, not an outage, until it is forgotten', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    // Both run under one name (as the workers of one machine do): one of them probes it.
    const probers = () =>
      [a, b].filter((t) => t.node.holdfast.cluster.singletons.held().includes('health-probes@mail.test.example'));
    await a.waitFor(async () => probers().length === 1, 'one process probing the shared node name');
    const leaders = () => [a, b].filter((t) => t.node.holdfast.cluster.singletons.held().includes('health'));
    await a.waitFor(async () => leaders().length === 1, 'one node running the shared checks');
    const silentId = b.node.holdfast.cluster.nodeId;
    // Hung: no heartbeat, no lease renewal, no probe rounds; nothing says it stopped.
    b.node.holdfast.cluster.freeze();
    await b.node.holdfast.health.stop();

    const issue = await a.waitFor(
      async () => issues().openForRule(nodeCheckRule(silentId)),
      'an issue about the silent node',
      30_000,
    );
    assert.equal(issue.component, 'Nodes');
    assert.equal(issue.classification, 'advisory');
    assert.match(issue.title, /stopped responding/);
    assert.match(issue.posts[0]!.content, new RegExp(`holdfast cluster forget ${silentId}`));

    const snapshot = await a.node.holdfast.health.statusSnapshot();
    const status = (id: string) => snapshot.components.find((c) => c.id === id)?.status;
    assert.notEqual(status('Nodes'), 'serviceOperational', 'the Nodes component shows the problem');
    for (const c of components.filter((c) => c.service === 'MailFlow'))
      assert.equal(status(c.id), 'serviceOperational', `${c.name} is not made an outage by a lost node`);
    assert.ok(
      snapshot.active.every((i) => i.classification === 'advisory'),
      'nothing but advisories is active on the status page',
    );

    await forgetNode(a.node.holdfast.store.db, silentId, Date.now());
    const resolved = await a.waitFor(
      async () => {
        const current = await issues().get(issue.id);
        return current?.isResolved && current;
      },
      'the advisory resolved once the node is forgotten',
      30_000,
    );
    assert.equal(resolved.status, 'serviceRestored');
  });

  it('resolves the open incident of a node that left cleanly', async () => {
    const [a] = nodes as [TestNode];
    const leaving = await start(['imap'], 'mail2.test.example');
    // One of its own checks fails (its IMAP listeners stop), and an incident opens for it.
    await leaving.node.stopRole('imap');
    const incident = await a.waitFor(
      async () => issues().openForRule('listener:Imap@mail2.test.example'),
      'an incident of the leaving node',
      30_000,
    );
    assert.equal(incident.classification, 'incident');

    await leaving.stop();
    nodes.splice(nodes.indexOf(leaving), 1);
    const resolved = await a.waitFor(
      async () => {
        const current = await issues().get(incident.id);
        return current?.isResolved && current;
      },
      'the incident of the node that left resolved',
      30_000,
    );
    assert.equal(resolved.status, 'serviceRestored');
    const snapshot = await a.node.holdfast.health.statusSnapshot();
    assert.equal(snapshot.active.length, 0, 'no active issue is left on the status page');
  });
});
