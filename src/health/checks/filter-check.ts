// Are the spam and malware scanners answering? rspamd's /ping and clamd's PING, each a check of this
// node (`filter:rspamd@<node>`, `filter:clamav@<node>`) on the Filtering component. With fail_open
// (the default) a scanner down means mail is accepted unscanned: an advisory. With fail_closed it
// means mail is refused for now (451 4.7.1): an incident.
import type { FilteringSettings } from '../../config/schema.ts';
import { ClamdClient } from '../../filtering/clamd-client.ts';
import { RspamdClient } from '../../filtering/rspamd-client.ts';
import { nodeRule, type CheckResult } from '../check-result.ts';
import type { ProbeContext } from './probe-context.ts';

export async function checkFilters(context: ProbeContext, settings: FilteringSettings): Promise<CheckResult[]> {
  const checks: Promise<CheckResult>[] = [];
  // A probe waits at most 10 s, whatever a scan may take.
  const timeoutMs = Math.min(settings.timeoutMs, 10_000);
  if (settings.rspamdUrl) {
    const rspamd = new RspamdClient({ url: settings.rspamdUrl, timeoutMs });
    checks.push(checkEngine(context, settings, 'rspamd', 'spam', () => rspamd.ping()));
  }
  if (settings.clamd) {
    const clamd = new ClamdClient(settings.clamd, timeoutMs);
    checks.push(checkEngine(context, settings, 'clamav', 'malware', () => clamd.ping()));
  }
  return Promise.all(checks);
}

async function checkEngine(
  context: ProbeContext,
  settings: FilteringSettings,
  engine: 'rspamd' | 'clamav',
  what: 'spam' | 'malware',
  ping: () => Promise<void>,
): Promise<CheckResult> {
  const started = performance.now();
  let failure: string | undefined;
  try {
    await ping();
  } catch (error) {
    failure = (error as Error).message;
  }
  const latencyMs = Math.round(performance.now() - started);
  const closed = settings.onFailure === 'fail_closed';
  return {
    rule: nodeRule(`filter:${engine}`, context.node),
    component: 'Filtering',
    state: failure ? 'failing' : 'healthy',
    latencyMs,
    detail: failure
      ? `${engine} does not answer from ${context.node}: ${failure}. ${closed ? 'Mail is refused for now (451 4.7.1, fail_closed).' : 'Mail is accepted without this scan and marked "not scanned" (fail_open).'}`
      : `${engine} answered in ${latencyMs} ms.`,
    issue: failure
      ? {
          classification: closed ? 'incident' : 'advisory',
          origin: 'customer',
          title: `The ${what} scanner (${engine}) is not answering on ${context.node}`,
          impact: closed
            ? 'Incoming mail is deferred (451 4.7.1) until the scanner answers again; senders retry.'
            : `Incoming mail is delivered without the ${what} scan; it is marked "not scanned".`,
          feature: `${what === 'spam' ? 'Spam' : 'Malware'} filtering`,
          publicSummary: closed ? 'Incoming mail is delayed' : `Incoming mail is not checked for ${what} for now`,
          scope: context.scope(),
        }
      : undefined,
  };
}
