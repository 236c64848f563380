// The public status page (/status, no login): components, active issues and the last 30 days, with
// nothing tenant-private on it. It renders from service health's snapshot, which answers even when
// the store does not (and the page says so). /status.json carries the same for scripts.
import type { FastifyInstance } from 'fastify';
import { healthServices } from '../health/components.ts';
import { historyDays, statusText, type PublicIssue, type StatusSnapshot } from '../health/status-snapshot.ts';
import type { WebContext } from './web-context.ts';

export function registerStatusPage(app: FastifyInstance, holdfast: WebContext) {
  app.get('/status', async (_request, reply) => {
    const snapshot = await holdfast.health.statusSnapshot();
    reply.header('Content-Type', 'text/html; charset=utf-8').header('Cache-Control', 'no-store');
    return renderStatusPage(snapshot, holdfast.config.hostname);
  });
  app.get('/status.json', async (_request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const snapshot = await holdfast.health.statusSnapshot();
    // The store's error text can name hosts or paths: administrators find it in `holdfast health`.
    return { ...snapshot, store: { available: snapshot.store.available, since: snapshot.store.since } };
  });
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const time = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/:\d\d\.\d{3}Z$/, ' UTC');
const dayMs = 86_400_000;

/** Statuses that mean the service works again: shown green, like operational. */
const settled = new Set(['serviceOperational', 'serviceRestored', 'postIncidentReviewPublished', 'falsePositive']);

function level(status: string): 'ok' | 'warn' | 'down' {
  if (settled.has(status)) return 'ok';
  return status === 'serviceInterruption' ? 'down' : 'warn';
}

/** Severity order of open issues for the headline: incidents first, then the worse status. */
function severity(issue: PublicIssue): number {
  return (
    (issue.classification === 'incident' ? 10 : 0) +
    (issue.status === 'serviceInterruption' ? 2 : issue.status === 'serviceDegradation' ? 1 : 0)
  );
}

/** The headline names the worst open issue: "Incident: IMAP interrupted (and 1 more open issue)". */
function headlineOf(s: StatusSnapshot): string {
  const open = s.active.filter((i) => !settled.has(i.status)).sort((a, b) => severity(b) - severity(a));
  const worst = open[0];
  if (worst) {
    const more = open.length > 1 ? ` (and ${open.length - 1} more open ${open.length === 2 ? 'issue' : 'issues'})` : '';
    return `${worst.classification === 'incident' ? 'Incident' : 'Advisory'}: ${worst.component} ${statusText(worst.status).toLowerCase()}${more}`;
  }
  const affected = s.components.filter((c) => c.status !== 'serviceOperational');
  if (affected.length) return `Investigating: ${affected.map((c) => c.name).join(', ')}`;
  return 'All services are operational';
}

export function renderStatusPage(s: StatusSnapshot, hostname: string): string {
  const headline = headlineOf(s);
  const historyStart = Math.max(s.generatedAt - historyDays * dayMs, s.installedAt ?? 0);
  const historyTitle =
    historyStart > s.generatedAt - historyDays * dayMs
      ? `Since installation (${new Date(historyStart).toISOString().slice(0, 10)})`
      : `Last ${historyDays} days`;
  const groups = Object.entries(healthServices).map(([id, service]) => {
    const rows = s.components
      .filter((c) => c.group === id)
      .map(
        (c) =>
          `<tr><td>${escapeHtml(c.name)}</td><td class="${level(c.status)}">${escapeHtml(statusText(c.status))}${c.note ? ` <small>(${escapeHtml(c.note)})</small>` : ''}</td><td class="days">${dayStrip(c.name, s)}</td></tr>`,
      )
      .join('\n');
    return `<tr><th colspan="3">${escapeHtml(service.name)}</th></tr>\n${rows}`;
  });
  const issueList = (list: PublicIssue[], empty: string) =>
    list.length
      ? `<ul>${list.map((i) => `<li><b>${escapeHtml(i.id)}</b> · ${escapeHtml(i.classification)} · ${escapeHtml(i.component)} · <span class="${level(i.status)}">${escapeHtml(statusText(i.status))}</span><br>${escapeHtml(i.summary)}<br><small>since ${time(i.startAt)}${i.endAt ? `, until ${time(i.endAt)}` : ''}; updated ${time(i.updatedAt)}</small></li>`).join('\n')}</ul>`
      : `<p>${empty}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="60">
<title>Status · ${escapeHtml(hostname)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;text-align:left;border-bottom:1px solid #eee}th{background:#f6f6f6}.ok{color:#1a7f37}.warn{color:#9a6700}.down{color:#cf222e}.banner{padding:.6em 1em;background:#fff8c5;border:1px solid #d4a72c}.days span{display:inline-block;width:6px;height:14px;margin-right:1px;background:#2da44e}.days span.warn{background:#d4a72c}.days span.down{background:#cf222e}.days span.none{background:#ddd}small{color:#666}</style>
</head><body>
<h1>${escapeHtml(headline)}</h1>
${s.store.available ? '' : `<p class="banner">The store is not answering${s.store.since ? ` since ${time(s.store.since)}` : ''}: this page shows the last known issues and what this server sees now. Mail accepted before is kept; new mail is deferred by senders and retried.</p>`}
<table>${groups.join('\n')}</table>
<h2>Active issues</h2>
${issueList(s.active, 'No active issues.')}
<h2>${historyTitle}</h2>
${issueList(s.history, 'No issues.')}
<p><small>Generated ${time(s.generatedAt)} by ${escapeHtml(hostname)}. Machine-readable: <a href="/status.json">/status.json</a>.</small></p>
</body></html>
`;
}

/**
 * One cell per day of the last 30, coloured by the worst issue of the component that day; days
 * before the installation are grey ("no data"), not green.
 */
function dayStrip(component: string, s: StatusSnapshot): string {
  const issues = [...s.active, ...s.history].filter((i) => i.component === component);
  const today = Math.floor(s.generatedAt / dayMs) * dayMs;
  const firstDay = s.installedAt === undefined ? -Infinity : Math.floor(s.installedAt / dayMs) * dayMs;
  const cells: string[] = [];
  for (let day = today - (historyDays - 1) * dayMs; day <= today; day += dayMs) {
    const date = new Date(day).toISOString().slice(0, 10);
    if (day < firstDay) {
      cells.push(`<span class="none" title="${date}: not installed yet"></span>`);
      continue;
    }
    const that = issues.filter(
      (i) => i.startAt < day + dayMs && (i.endAt ?? s.generatedAt) >= day && i.status !== 'falsePositive',
    );
    const worst = that.some((i) => i.classification === 'incident') ? 'down' : that.length ? 'warn' : '';
    cells.push(`<span${worst ? ` class="${worst}"` : ''} title="${date}"></span>`);
  }
  return cells.join('');
}
