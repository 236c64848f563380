// The timeline posts Holdfast writes on its issues, in the shape of the provider's own posts
// ("Title: … User impact: … Current status: … Scope of impact: … Start time: …"): HTML in the
// API, plain text in mail and the terminal.
import type { CheckResult, IssueScope } from './check-result.ts';
import { statusWords, type IssueStatus } from './components.ts';

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Lines "Label: text" as the HTML content of a post. A line's `detail` (a check's figures, which
 * count every tenant's mail) is marked, so a tenant administrator's view can leave it out.
 */
export function postHtml(lines: [label: string, text: string, detail?: string][]): string {
  return lines
    .map(([label, text, detail]) => {
      const figures = detail ? `${text ? ' ' : ''}<span class="detail">${escapeHtml(detail)}</span>` : '';
      return `<b>${escapeHtml(label)}:</b> ${escapeHtml(text)}${figures}`;
    })
    .join('<br>\n');
}

/**
 * A post as a tenant administrator reads it: the scope narrowed to their own tenant (no other
 * tenant's name, no resource forests) and the checks' figures, which count every tenant's mail,
 * left out.
 */
export function tenantPost(html: string, scope: IssueScope, tenant: string): string {
  const own = scopeText({ ...scope, tenants: scope.tenants.filter((t) => t === tenant), forests: [] });
  return html
    .replace(/(<b>Scope of impact:<\/b> )[^<]*/g, `$1${escapeHtml(own)}`)
    .replace(/ ?<span class="detail">[^<]*<\/span>/g, '');
}

/** The plain text of a post's HTML. */
export function postText(html: string): string {
  return html
    .replace(/<br\s*\/?>\n?/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** "10 min", "45 s", "2 h". */
export function durationText(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export const isoTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function scopeText(scope: IssueScope): string {
  const parts = [scope.tenants.length ? `tenants ${scope.tenants.join(', ')}` : 'all tenants'];
  if (scope.forests.length) parts.push(`resource forests ${scope.forests.join(', ')}`);
  if (scope.nodes.length) parts.push(`served by ${scope.nodes.join(', ')}`);
  if (scope.regions.length) parts.push(`region ${scope.regions.join(', ')}`);
  return parts.join('; ');
}

const currentStatus: Partial<Record<IssueStatus, string>> = {
  investigating: 'Automatic checks detected a problem; we are investigating its scope.',
  serviceInterruption: 'The problem is confirmed by repeated checks: the service or a major function is unavailable.',
  serviceDegradation: 'The problem is confirmed by repeated checks: the service works with reduced function or delays.',
  extendedRecovery: 'The fault has cleared; its effects are still being worked off.',
};

/** The first post of an automatic issue. */
export function openingPost(result: CheckResult, since: number, intervalMs: number): string {
  const issue = result.issue!;
  return postHtml([
    ['Title', issue.title],
    ['User impact', issue.impact],
    ['Current status', currentStatus.investigating!, result.detail],
    ['Scope of impact', scopeText(issue.scope)],
    ['Start time', isoTime(since)],
    ['Next update by', `the next change in status; checks run every ${durationText(intervalMs)}`],
  ]);
}

/** A post for an automatic move to `to`. */
export function statusPost(
  to: IssueStatus,
  result: CheckResult | undefined,
  extra: { startAt: number; healthySince?: number; resolveAfterMs: number; escalate?: boolean },
): string {
  const lines: [string, string, string?][] = [];
  if (to === 'restoringService') {
    lines.push([
      'Current status',
      `Checks pass again since ${isoTime(extra.healthySince!)}. We keep watching; the issue resolves after ${durationText(extra.resolveAfterMs)} of health.`,
      result?.detail,
    ]);
  } else {
    const escalation = extra.escalate ? 'The impact has grown: this is now an incident. ' : '';
    lines.push(['Current status', `${escalation}${currentStatus[to] ?? statusWords[to]}`, result?.detail]);
  }
  if (result?.issue) lines.push(['Scope of impact', scopeText(result.issue.scope)]);
  lines.push(['Start time', isoTime(extra.startAt)]);
  return postHtml(lines);
}

/** The final post of an automatically resolved issue. */
export function resolvedPost(startAt: number, endAt: number, healthySince: number): string {
  return postHtml([
    ['Final status', `Checks have passed continuously since ${isoTime(healthySince)}; the service is healthy again.`],
    ['Start time', isoTime(startAt)],
    ['End time', isoTime(endAt)],
  ]);
}
