// What the public status page shows: every component's status, the active issues and the last 30
// days, in words without tenant, address or domain names. Kept in memory and refreshed from the
// store, so the page still answers (and says so) when the store does not.
import type { CheckResult } from './check-result.ts';
import { components, statusWords, worstStatus, type ServiceStatus } from './components.ts';
import { componentHealth } from './graph-shape.ts';
import type { HealthIssue } from './issue-log.ts';

export interface PublicIssue {
  id: string;
  classification: string;
  status: ServiceStatus;
  component: string;
  summary: string;
  startAt: number;
  endAt: number | null;
  updatedAt: number;
}

export interface StatusSnapshot {
  generatedAt: number;
  /** When this installation's store was created: the history starts there, not 30 days back. */
  installedAt?: number;
  store: { available: boolean; error?: string; since?: number };
  components: { id: string; name: string; group: string; status: ServiceStatus; note?: string }[];
  active: PublicIssue[];
  history: PublicIssue[];
}

export const historyDays = 30;

export function buildSnapshot(
  now: number,
  issues: HealthIssue[],
  failingChecks: CheckResult[],
  store: StatusSnapshot['store'],
  installedAt?: number,
): StatusSnapshot {
  const active = issues.filter((i) => !i.isResolved);
  const toPublic = (i: HealthIssue): PublicIssue => ({
    id: i.id,
    classification: i.classification,
    status: i.status,
    component: components.find((c) => c.id === i.component)?.name ?? i.component,
    summary: i.publicSummary,
    startAt: i.startAt,
    endAt: i.endAt,
    updatedAt: i.updatedAt,
  });
  return {
    generatedAt: now,
    installedAt,
    store,
    components: overlay(componentHealth(active), failingChecks, store),
    active: active.map(toPublic),
    history: issues.filter((i) => i.isResolved && (i.endAt ?? 0) >= now - historyDays * 86_400_000).map(toPublic),
  };
}

/** The last snapshot read from the store, with what this node sees now while the store does not answer. */
export function staleSnapshot(
  previous: StatusSnapshot,
  now: number,
  failingChecks: CheckResult[],
  store: StatusSnapshot['store'],
): StatusSnapshot {
  return { ...previous, generatedAt: now, store, components: overlay(previous.components, failingChecks, store) };
}

/** A failing check without an issue yet (or with the store unable to record one) shows as investigating. */
function overlay(
  list: StatusSnapshot['components'],
  failingChecks: CheckResult[],
  store: StatusSnapshot['store'],
): StatusSnapshot['components'] {
  return list.map((c) => {
    if (c.id === 'Store' && !store.available)
      return { ...c, status: 'serviceInterruption', note: 'The store is not answering' };
    const failing = failingChecks.some((r) => r.component === c.id);
    if (!failing) return c;
    return {
      ...c,
      status: worstStatus([c.status, 'investigating']),
      ...(c.status === 'serviceOperational' ? { note: 'Checks are failing; not yet confirmed' } : {}),
    };
  });
}

export const statusText = (status: ServiceStatus) => statusWords[status];
