// A test node in front of an upstream for contoso.example (continuity mode): the upstream "exchange"
// at `upstreamPort`, the outside (partner.example's MX) on loopback at `outsidePort`, the continuity
// users added, and the [continuity] settings and any other TOML the test gives.
import type { BackendName } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

export async function startContinuityNode(
  backend: BackendName,
  options: {
    upstreamPort: number;
    outsidePort?: number;
    /** Lines of the [continuity] section (activate_after, probe_interval…). */
    settings: string[];
    /** More lines of the [queue] section (expire…). */
    queue?: string[];
    /** TOML after the upstream's own lines (e.g. its [continuity.upstream.sent]), and other sections. */
    toml?: string[];
    users: string[];
    password: string;
  },
): Promise<TestNode> {
  const t = await startTestNode(backend, {
    toml: [
      '[queue]',
      'retry = ["1s"]',
      ...(options.queue ?? []),
      ...(options.outsidePort ? [`remote_port = ${options.outsidePort}`] : []),
      '[cluster]',
      'heartbeat = "200ms"',
      'lease = "1s"',
      '[continuity]',
      ...options.settings,
      '[[continuity.upstream]]',
      'name = "exchange"',
      'domains = ["contoso.example"]',
      `url = "smtp://127.0.0.1:${options.upstreamPort}"`,
      ...(options.toml ?? []),
    ].join('\n'),
  });
  t.dns.set('partner.example', { MX: [{ exchange: 'mx.partner.example', priority: 10 }] });
  t.dns.set('mx.partner.example', { A: ['127.0.0.1'] });
  const tenant = await t.node.holdfast.directory.tenant('default');
  await tenant.addDomain('contoso.example');
  for (const address of options.users) await tenant.addPrincipal({ kind: 'user', address, password: options.password });
  return t;
}
