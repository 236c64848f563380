// What service health reports on: the fixed list of components, grouped in services whose prefix
// starts every issue ID (MF1042: mail flow), and the Graph serviceHealthStatus values with the order
// that rolls a component's issues up into one status (the worst active one).

export const healthServices = {
  MailFlow: { name: 'Mail flow', prefix: 'MF' },
  MailboxAccess: { name: 'Mailbox access', prefix: 'MA' },
  Calendar: { name: 'Calendars', prefix: 'CA' },
  Platform: { name: 'Platform', prefix: 'PL' },
} as const;
export type HealthServiceId = keyof typeof healthServices;

export const components = [
  { id: 'SmtpIntake', name: 'SMTP intake', service: 'MailFlow' },
  { id: 'Submission', name: 'Submission', service: 'MailFlow' },
  { id: 'Queue', name: 'Queue', service: 'MailFlow' },
  { id: 'LocalDelivery', name: 'Local delivery', service: 'MailFlow' },
  { id: 'RemoteDelivery', name: 'Remote delivery', service: 'MailFlow' },
  { id: 'Filtering', name: 'Spam and malware filtering', service: 'MailFlow' },
  { id: 'Imap', name: 'IMAP', service: 'MailboxAccess' },
  { id: 'Pop3', name: 'POP3', service: 'MailboxAccess' },
  { id: 'CalDav', name: 'CalDAV', service: 'Calendar' },
  { id: 'HttpApi', name: 'HTTP API', service: 'Platform' },
  { id: 'Store', name: 'Store', service: 'Platform' },
  { id: 'Directory', name: 'Directory and authentication', service: 'Platform' },
  { id: 'Nodes', name: 'Nodes', service: 'Platform' },
  { id: 'Backup', name: 'Backup', service: 'Platform' },
] as const satisfies readonly { id: string; name: string; service: HealthServiceId }[];

export type ComponentId = (typeof components)[number]['id'];
export type Component = (typeof components)[number];

export function findComponent(idOrName: string): Component | undefined {
  const wanted = idOrName.trim().toLowerCase();
  return components.find((c) => c.id.toLowerCase() === wanted || c.name.toLowerCase() === wanted);
}

export function componentById(id: string): Component {
  const component = findComponent(id);
  if (!component) throw new Error(`unknown health component ${id}`);
  return component;
}

export type Classification = 'incident' | 'advisory';
export const classifications: readonly Classification[] = ['incident', 'advisory'];

/** The statuses Holdfast sets or lets an administrator set (Graph serviceHealthStatus values). */
export const issueStatuses = [
  'investigating',
  'serviceDegradation',
  'serviceInterruption',
  'restoringService',
  'extendedRecovery',
  'verifyingService',
  'serviceRestored',
  'falsePositive',
  'postIncidentReviewPublished',
  'investigationSuspended',
] as const;
export type IssueStatus = (typeof issueStatuses)[number];
export type ServiceStatus = IssueStatus | 'serviceOperational';

/** Statuses that end an issue. */
export const resolvedStatuses: readonly IssueStatus[] = [
  'serviceRestored',
  'falsePositive',
  'postIncidentReviewPublished',
];

/** Graph payloads are seen in both camelCase and PascalCase: accept either. */
export function parseStatus(text: string): IssueStatus | undefined {
  return issueStatuses.find((s) => s.toLowerCase() === text.trim().toLowerCase());
}

const severity: Record<ServiceStatus, number> = {
  serviceOperational: 0,
  serviceRestored: 0,
  falsePositive: 0,
  postIncidentReviewPublished: 0,
  investigationSuspended: 1,
  verifyingService: 2,
  extendedRecovery: 3,
  restoringService: 4,
  investigating: 5,
  serviceDegradation: 6,
  serviceInterruption: 7,
};

/** A component's status: the worst status among its active issues. */
export function worstStatus(statuses: ServiceStatus[]): ServiceStatus {
  return statuses.reduce<ServiceStatus>(
    (worst, s) => (severity[s] > severity[worst] ? s : worst),
    'serviceOperational',
  );
}

/** Words for people (status page, terminal, mail). */
export const statusWords: Record<ServiceStatus, string> = {
  serviceOperational: 'Operational',
  investigating: 'Investigating',
  serviceDegradation: 'Degraded',
  serviceInterruption: 'Interrupted',
  restoringService: 'Restoring service',
  extendedRecovery: 'Extended recovery',
  verifyingService: 'Verifying service',
  serviceRestored: 'Restored',
  falsePositive: 'False positive',
  postIncidentReviewPublished: 'Post-incident review published',
  investigationSuspended: 'Investigation suspended',
};
