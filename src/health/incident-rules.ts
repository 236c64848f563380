// When an issue opens, moves and resolves, from the checks of each probe round: a check must fail
// for `open_after` without a healthy result between before an issue opens (investigating); the next
// round confirms it (serviceInterruption for an incident, serviceDegradation for an advisory); a
// check that stops failing moves it to restoringService (extendedRecovery while a backlog drains),
// and `resolve_after` of health resolves it (serviceRestored). A status an administrator set is
// left alone until the check has been healthy long enough to resolve.
import type { CheckResult } from './check-result.ts';
import type { IssueStatus } from './components.ts';

export interface OpenIssueView {
  id: string;
  rule: string;
  classification: 'incident' | 'advisory';
  status: IssueStatus;
  updatedAt: number;
  /** Whether Holdfast itself set the current status (not an administrator). */
  statusByHoldfast: boolean;
}

export type IssueAction =
  | { kind: 'open'; result: CheckResult; since: number }
  | {
      kind: 'status';
      issueId: string;
      from: IssueStatus;
      to: IssueStatus;
      result?: CheckResult;
      escalate?: boolean;
      healthySince?: number;
    }
  | { kind: 'resolve'; issueId: string; from: IssueStatus; healthySince: number };

interface RuleMemory {
  failingSince?: number;
  healthySince?: number;
  issueId?: string;
}

export interface RuleTimes {
  probeIntervalMs: number;
  openAfterMs: number;
  resolveAfterMs: number;
}

const recoveryStatuses: readonly IssueStatus[] = ['restoringService', 'extendedRecovery', 'verifyingService'];

export class IncidentRules {
  private readonly memory = new Map<string, RuleMemory>();

  constructor(private readonly times: RuleTimes) {}

  /**
   * The actions for one round. `owns(rule)` says which rules this node judges (its own node's and the
   * shared ones); `absentIsHealthy(rule)` says which rules report only their failures (a destination
   * with no deferred mail is not mentioned at all).
   */
  evaluate(
    now: number,
    results: CheckResult[],
    open: OpenIssueView[],
    owns: (rule: string) => boolean,
    absentIsHealthy: (rule: string) => boolean,
  ): IssueAction[] {
    const actions: IssueAction[] = [];
    const byRule = new Map(results.filter((r) => r.issue || r.state === 'healthy').map((r) => [r.rule, r]));
    const openByRule = new Map(open.map((i) => [i.rule, i]));
    const rules = new Set([
      ...byRule.keys(),
      ...[...openByRule.keys()].filter((rule) => owns(rule) && (byRule.has(rule) || absentIsHealthy(rule))),
    ]);
    for (const rule of rules) {
      const result = byRule.get(rule);
      const issue = openByRule.get(rule);
      const memory = this.memory.get(rule) ?? {};
      this.memory.set(rule, memory);
      // An issue this node knew of was closed by someone else (falsePositive): a new one needs a new breach.
      if (memory.issueId && !issue) memory.failingSince = undefined;
      memory.issueId = issue?.id;
      const state = result?.state ?? 'healthy';

      if (state === 'failing' && result?.issue) {
        memory.healthySince = undefined;
        memory.failingSince ??= now;
        if (!issue) {
          if (now - memory.failingSince >= this.times.openAfterMs)
            actions.push({ kind: 'open', result, since: memory.failingSince });
          continue;
        }
        const target: IssueStatus =
          result.issue.classification === 'incident' ? 'serviceInterruption' : 'serviceDegradation';
        const escalate = issue.classification === 'advisory' && result.issue.classification === 'incident';
        const confirm = issue.status === 'investigating' && now - issue.updatedAt >= this.times.probeIntervalMs / 2;
        const relapse = recoveryStatuses.includes(issue.status);
        if (escalate || (issue.statusByHoldfast && (confirm || relapse))) {
          if (escalate || issue.status !== target)
            actions.push({ kind: 'status', issueId: issue.id, from: issue.status, to: target, result, escalate });
        }
        continue;
      }

      memory.failingSince = undefined;
      if (state === 'recovering') {
        memory.healthySince = undefined;
        if (issue?.statusByHoldfast && issue.status !== 'extendedRecovery')
          actions.push({ kind: 'status', issueId: issue.id, from: issue.status, to: 'extendedRecovery', result });
        continue;
      }

      memory.healthySince ??= now;
      if (!issue) continue;
      if (now - memory.healthySince >= this.times.resolveAfterMs) {
        actions.push({ kind: 'resolve', issueId: issue.id, from: issue.status, healthySince: memory.healthySince });
      } else if (issue.statusByHoldfast && issue.status !== 'restoringService') {
        actions.push({
          kind: 'status',
          issueId: issue.id,
          from: issue.status,
          to: 'restoringService',
          result,
          healthySince: memory.healthySince,
        });
      }
    }
    return actions;
  }
}
