// Do this node's listeners accept connections? One check per component (IMAP on 143 and 993 is
// one check): an incident when any of its listeners refuses.
import type { ListenerName } from '../../config/schema.ts';
import type { ListenerInfo } from '../../net/listen.ts';
import { nodeRule, type CheckResult } from '../check-result.ts';
import { componentById, type ComponentId } from '../components.ts';
import type { ProbeContext } from './probe-context.ts';
import { acceptsConnections, implicitTls, localHost } from './tcp-reachable.ts';

const componentOfListener: Record<ListenerName, ComponentId> = {
  smtp: 'SmtpIntake',
  submission: 'Submission',
  submissions: 'Submission',
  imap: 'Imap',
  imaps: 'Imap',
  pop3: 'Pop3',
  pop3s: 'Pop3',
  http: 'HttpApi',
  https: 'HttpApi',
  // Mailbox access, as IMAP: a ManageSieve listener that refuses shows as IMAP's incident.
  managesieve: 'Imap',
};

const impactOf: Record<string, string> = {
  SmtpIntake: 'Mail from other servers cannot be received; senders queue it and retry.',
  Submission: 'Users and applications cannot send mail.',
  Imap: 'Mail apps cannot open mailboxes over IMAP.',
  Pop3: 'POP3 clients cannot download mail.',
  HttpApi: 'Calendars (CalDAV), the admin API and metrics cannot be reached over HTTP.',
};

export async function checkListeners(context: ProbeContext, listeners: ListenerInfo[]): Promise<CheckResult[]> {
  const byComponent = new Map<ComponentId, ListenerInfo[]>();
  for (const l of listeners)
    byComponent.set(componentOfListener[l.name], [...(byComponent.get(componentOfListener[l.name]) ?? []), l]);
  const results: CheckResult[] = [];
  for (const [componentId, list] of byComponent) {
    const started = performance.now();
    const refused = (
      await Promise.all(
        list.map(async (l) =>
          (await acceptsConnections(localHost(l.host), l.port, { tls: implicitTls.includes(l.name) })) ? undefined : l,
        ),
      )
    ).filter((l) => l !== undefined);
    const component = componentById(componentId);
    const ports = list.map((l) => `${l.name} ${l.port}`).join(', ');
    results.push({
      rule: nodeRule(`listener:${componentId}`, context.node),
      component: componentId,
      state: refused.length ? 'failing' : 'healthy',
      latencyMs: Math.round(performance.now() - started),
      detail: refused.length
        ? `${new Intl.ListFormat('en', { type: 'conjunction' }).format(refused.map((l) => `${l.name} (port ${l.port})`))} on ${context.node} refused connections.`
        : `${ports} accepting connections.`,
      issue: {
        classification: 'incident',
        origin: 'customer',
        title: `${component.name} is not accepting connections on ${context.node}`,
        impact: impactOf[componentId]!,
        feature: `${component.name} listeners`,
        publicSummary: `${component.name} is unavailable on one server`,
        scope: context.scope(),
      },
    });
  }
  return results;
}
