// The Microsoft Graph service-announcement shapes (serviceHealth, serviceHealthIssue,
// serviceHealthIssuePost), so tooling written for Exchange Online reads Holdfast's health as is.
// Additions the original lacks: regions, forests, nodes, tenants and affectedTenantsEstimate.
import type { ServiceStatus } from './components.ts';
import { componentById, components, worstStatus } from './components.ts';
import type { HealthIssue } from './issue-log.ts';
import { isoTime, tenantPost } from './issue-posts.ts';

/** Who reads: a global administrator sees every issue; a tenant administrator only their tenant's. */
export interface HealthViewer {
  tenant?: string;
}

export function visibleTo(issue: HealthIssue, viewer: HealthViewer): boolean {
  return !viewer.tenant || issue.scope.tenants.length === 0 || issue.scope.tenants.includes(viewer.tenant);
}

export function graphIssue(issue: HealthIssue, viewer: HealthViewer) {
  const component = componentById(issue.component);
  return {
    id: issue.id,
    title: issue.title,
    impactDescription: issue.impactDescription,
    classification: issue.classification,
    origin: issue.origin,
    status: issue.status,
    service: component.name,
    feature: issue.feature,
    featureGroup: issue.featureGroup,
    isResolved: issue.isResolved,
    startDateTime: isoTime(issue.startAt),
    endDateTime: issue.endAt === null ? null : isoTime(issue.endAt),
    lastModifiedDateTime: isoTime(issue.updatedAt),
    details: [
      { name: 'NotifyInApp', value: 'True' },
      { name: 'Component', value: component.id },
      { name: 'OpenedBy', value: issue.createdBy === 'holdfast' ? 'automatic checks' : 'administrator' },
    ],
    regions: issue.scope.regions,
    forests: viewer.tenant ? [] : issue.scope.forests,
    nodes: issue.scope.nodes,
    tenants: viewer.tenant ? issue.scope.tenants.filter((t) => t === viewer.tenant) : issue.scope.tenants,
    // How many tenants are affected tells a tenant administrator about the others: only operators see it.
    affectedTenantsEstimate: viewer.tenant ? null : issue.scope.tenants.length || null,
    posts: issue.posts.map((p) => ({
      createdDateTime: isoTime(p.createdAt),
      postType: p.postType,
      description: {
        contentType: 'html',
        content: viewer.tenant ? tenantPost(p.content, issue.scope, viewer.tenant) : p.content,
      },
    })),
  };
}

export interface ComponentHealth {
  id: string;
  name: string;
  group: string;
  status: ServiceStatus;
}

/** Every component with the worst status of its active issues. */
export function componentHealth(active: HealthIssue[]): ComponentHealth[] {
  return components.map((c) => ({
    id: c.id,
    name: c.name,
    group: c.service,
    status: worstStatus(active.filter((i) => i.component === c.id && !i.isResolved).map((i) => i.status)),
  }));
}

export function graphHealthOverview(
  component: ComponentHealth,
  issues: HealthIssue[] | undefined,
  viewer: HealthViewer,
) {
  return {
    id: component.id,
    service: component.name,
    status: component.status,
    serviceGroup: component.group,
    ...(issues ? { issues: issues.filter((i) => i.component === component.id).map((i) => graphIssue(i, viewer)) } : {}),
  };
}
