// How a continuity event shows in service health: an incident on Remote delivery (origin: third
// party — the provider's outage, not ours) opened when the event starts, with the upstream's last
// replies; a post when it recovers (the replay), when it fails again, and when it closes with its
// figures. Webhooks and alert mail follow through the health notifier, the status page through the
// issue itself. Only the node running the continuity rounds writes them, once per state change.
import type { ContinuityUpstream } from '../config/schema.ts';
import type { IssueAdmin } from '../health/issue-admin.ts';
import { holdfastAuthor, type HealthIssue } from '../health/issue-log.ts';
import { durationText, isoTime, postHtml } from '../health/issue-posts.ts';
import type { ContinuityEvent } from './continuity-events.ts';
import type { UpstreamRecord } from './upstream-record.ts';

export interface EventFigures {
  held: number;
  replayed: number;
  waiting: number;
}

export async function postEventState(
  health: IssueAdmin,
  upstream: ContinuityUpstream,
  event: ContinuityEvent,
  record: UpstreamRecord,
  figures: EventFigures,
): Promise<string | null> {
  const now = health.now();
  const domains = upstream.domains.join(', ');
  const replies = record.lastReplies
    .filter((r) => !r.ok)
    .map((r) => `${isoTime(r.at)} ${r.source}: ${r.reply}`)
    .join(' | ');
  let issue: HealthIssue | undefined;
  if (!event.issueId) {
    issue = await health.log.open({
      component: 'RemoteDelivery',
      classification: 'incident',
      origin: 'thirdParty',
      status: 'serviceDegradation',
      title: `Continuity: the upstream ${upstream.name} is failing; Holdfast delivers mail for ${domains} itself`,
      impactDescription: `Mail for ${domains} is held for the upstream provider and delivered into the users' Holdfast mailboxes; users read, reply and send through Holdfast (IMAP, submission) until the provider recovers.`,
      feature: 'Continuity',
      scope: { tenants: [], forests: [], regions: [health.region], nodes: [] },
      startAt: event.startedAt,
      author: holdfastAuthor,
      post: postHtml([
        ['Title', `Continuity event for ${domains}`],
        [
          'User impact',
          'Users sign in to Holdfast with their continuity credentials to read and send mail; nothing sent to them is lost.',
        ],
        [
          'Current status',
          `${event.startedBy === 'admin' ? 'Started by an administrator' : 'Started by itself'}: ${event.reason}.`,
        ],
        ["The upstream's last replies", replies || 'none recorded'],
        ['Start time', isoTime(event.startedAt)],
      ]),
    });
    if (issue) health.notifier.notify('issue.opened', issue);
    if (event.state === 'active') return issue?.id ?? null;
  }
  const issueId = event.issueId ?? issue?.id;
  if (!issueId) return null;
  const current = await health.log.get(issueId);
  if (!current || current.isResolved) return issueId;
  if (event.state === 'recovering') {
    issue = await health.log.setStatus(issueId, 'restoringService', {
      author: holdfastAuthor,
      post: postHtml([
        ['Current status', `${event.reason}. The mail held is replayed oldest first, paced by the upstream's replies.`],
        [
          'Progress',
          `${figures.held} messages copied into mailboxes; ${figures.waiting} recipients waiting for the upstream`,
        ],
        ['Recovery began', isoTime(event.recoveringSince ?? now)],
      ]),
    });
    if (issue) health.notifier.notify('issue.updated', issue);
  } else if (event.state === 'active') {
    issue = await health.log.setStatus(issueId, 'serviceDegradation', {
      author: holdfastAuthor,
      post: postHtml([
        [
          'Current status',
          `${event.reason}. Holdfast delivers the mail itself again; the replay resumes when the upstream recovers.`,
        ],
        ["The upstream's last replies", replies || 'none recorded'],
      ]),
    });
    if (issue) health.notifier.notify('issue.updated', issue);
  } else {
    const took = (event.endedAt ?? now) - event.startedAt;
    issue = await health.log.setStatus(issueId, 'serviceRestored', {
      author: holdfastAuthor,
      post: postHtml([
        [
          'Final status',
          `The mail held for the upstream has been delivered to it and the event is over; mail for ${domains} goes to the upstream again.`,
        ],
        [
          'Figures',
          `${figures.held} messages copied into mailboxes; ${figures.replayed} recipients replayed to the upstream; the event lasted ${durationText(took)}`,
        ],
        ['Start time', isoTime(event.startedAt)],
        ['End time', isoTime(event.endedAt ?? now)],
      ]),
    });
    if (issue) health.notifier.notify('issue.resolved', issue);
  }
  return issueId;
}
