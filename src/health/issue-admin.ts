// What an administrator does with issues, from the CLI or the HTTP API alike: open one by hand,
// post an update, change its status. Each change is notified like the automatic ones.
import { invalid } from '../errors.ts';
import type { IssueScope } from './check-result.ts';
import { findComponent, parseStatus, resolvedStatuses, type Classification } from './components.ts';
import type { HealthIssue, IssueLog } from './issue-log.ts';
import type { HealthNotifier } from './notifier.ts';
import { postHtml } from './issue-posts.ts';

export interface IssueAdmin {
  log: IssueLog;
  notifier: HealthNotifier;
  now(): number;
  region: string;
}

export interface OpenByHand {
  component: string;
  title: string;
  impact: string;
  classification?: string;
  status?: string;
  feature?: string;
  message?: string;
  tenants?: string[];
  author: string;
}

export async function openIssueByHand(admin: IssueAdmin, input: OpenByHand): Promise<HealthIssue> {
  const component = findComponent(input.component ?? '');
  if (!component)
    throw invalid(
      'invalid-component',
      `component = "${input.component}" is not allowed: expected one of the components listed by \`holdfast health\` (e.g. SmtpIntake, RemoteDelivery, Imap)`,
    );
  if (!input.title?.trim()) throw invalid('invalid-title', 'title is required: one line saying what is wrong');
  if (!input.impact?.trim())
    throw invalid('invalid-impact', 'impact is required: one sentence saying what users notice');
  const classification = (input.classification ?? 'incident').toLowerCase() as Classification;
  if (classification !== 'incident' && classification !== 'advisory')
    throw invalid(
      'invalid-classification',
      `classification = "${input.classification}" is not allowed: expected incident or advisory`,
    );
  const status = parseStatus(input.status ?? 'investigating');
  if (!status || resolvedStatuses.includes(status))
    throw invalid(
      'invalid-status',
      `status = "${input.status}" is not allowed: expected an active status such as investigating, serviceDegradation or serviceInterruption`,
    );
  const scope: IssueScope = { tenants: input.tenants ?? [], forests: [], regions: [admin.region], nodes: [] };
  const issue = await admin.log.open({
    component: component.id,
    classification,
    origin: 'customer',
    status,
    title: input.title.trim(),
    impactDescription: input.impact.trim(),
    feature: input.feature?.trim() || component.name,
    scope,
    startAt: admin.now(),
    author: input.author,
    post: postHtml([
      ['Title', input.title.trim()],
      ['User impact', input.impact.trim()],
      ['Current status', input.message?.trim() || 'An administrator opened this issue and is investigating.'],
    ]),
  });
  admin.notifier.notify('issue.opened', issue!);
  return issue!;
}

/** Posts an update, changing the status too when one is given. */
export async function updateIssue(
  admin: IssueAdmin,
  id: string,
  change: { message?: string; status?: string; author: string; postType?: string },
): Promise<HealthIssue> {
  const postType =
    change.postType === undefined
      ? 'regular'
      : (['regular', 'quick', 'strategic'] as const).find((t) => t === change.postType?.toLowerCase());
  if (!postType)
    throw invalid(
      'invalid-post-type',
      `postType = "${change.postType}" is not allowed: expected regular, quick or strategic`,
    );
  if (change.status === undefined) {
    if (!change.message?.trim()) throw invalid('invalid-message', 'message is required: the text of the update');
    const issue = await admin.log.addPost(id, {
      content: postHtml([['Current status', change.message.trim()]]),
      author: change.author,
      postType,
    });
    admin.notifier.notify('issue.updated', issue);
    return issue;
  }
  const status = parseStatus(change.status);
  if (!status)
    throw invalid(
      'invalid-status',
      `status = "${change.status}" is not allowed: expected one of investigating, serviceDegradation, serviceInterruption, restoringService, extendedRecovery, verifyingService, serviceRestored, falsePositive, postIncidentReviewPublished, investigationSuspended`,
    );
  const text = change.message?.trim() || `An administrator set the status to ${status}.`;
  const issue = (await admin.log.setStatus(id, status, {
    post: postHtml([['Current status', text]]),
    author: change.author,
    postType,
  }))!;
  admin.notifier.notify(
    issue.isResolved && resolvedStatuses.includes(status) ? 'issue.resolved' : 'issue.updated',
    issue,
  );
  return issue;
}
