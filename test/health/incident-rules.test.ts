// The incident rules alone: hysteresis on opening and resolving, the automatic status flow, and an
// administrator's status left alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult } from '../../src/health/check-result.ts';
import { IncidentRules, type OpenIssueView } from '../../src/health/incident-rules.ts';

const times = { probeIntervalMs: 60_000, openAfterMs: 120_000, resolveAfterMs: 600_000 };
const owns = () => true;
const onlyFailuresReported = (rule: string) => rule.startsWith('destination:');

function check(
  state: CheckResult['state'],
  classification: 'incident' | 'advisory' = 'incident',
  rule = 'listener:Imap@mail1',
): CheckResult {
  return {
    rule,
    component: 'Imap',
    state,
    detail: `state ${state}`,
    issue: {
      classification,
      origin: 'customer',
      title: 'IMAP down',
      impact: 'no mail apps',
      feature: 'IMAP listeners',
      publicSummary: 'IMAP down',
      scope: { tenants: [], forests: [], regions: [], nodes: ['mail1'] },
    },
  };
}

const open = (status: OpenIssueView['status'], extra: Partial<OpenIssueView> = {}): OpenIssueView => ({
  id: 'MA1001',
  rule: 'listener:Imap@mail1',
  classification: 'incident',
  status,
  updatedAt: 0,
  statusByHoldfast: true,
  ...extra,
});

describe('incident rules', () => {
  it('opens only after open_after of continuous failure; a healthy round in between starts over', () => {
    const rules = new IncidentRules(times);
    assert.deepEqual(rules.evaluate(0, [check('failing')], [], owns, onlyFailuresReported), []);
    assert.deepEqual(rules.evaluate(60_000, [check('failing')], [], owns, onlyFailuresReported), []);
    assert.deepEqual(
      rules.evaluate(90_000, [check('healthy')], [], owns, onlyFailuresReported),
      [],
      'a blip does not open an issue',
    );
    assert.deepEqual(rules.evaluate(120_000, [check('failing')], [], owns, onlyFailuresReported), []);
    const actions = rules.evaluate(240_000, [check('failing')], [], owns, onlyFailuresReported);
    assert.equal(actions.length, 1);
    assert.equal(actions[0]!.kind, 'open');
    assert.equal(actions[0]!.kind === 'open' && actions[0]!.since, 120_000, 'the issue starts when the failure began');
  });

  it('confirms on a later round, restores on health, resolves after resolve_after', () => {
    const rules = new IncidentRules(times);
    rules.evaluate(0, [check('failing')], [], owns, onlyFailuresReported);
    const confirm = rules.evaluate(
      60_000,
      [check('failing')],
      [open('investigating', { updatedAt: 0 })],
      owns,
      onlyFailuresReported,
    );
    assert.deepEqual(
      confirm.map((a) => a.kind === 'status' && a.to),
      ['serviceInterruption'],
    );
    const restoring = rules.evaluate(
      120_000,
      [check('healthy')],
      [open('serviceInterruption')],
      owns,
      onlyFailuresReported,
    );
    assert.deepEqual(
      restoring.map((a) => a.kind === 'status' && a.to),
      ['restoringService'],
    );
    assert.deepEqual(
      rules.evaluate(300_000, [check('healthy')], [open('restoringService')], owns, onlyFailuresReported),
      [],
    );
    const relapse = rules.evaluate(360_000, [check('failing')], [open('restoringService')], owns, onlyFailuresReported);
    assert.deepEqual(
      relapse.map((a) => a.kind === 'status' && a.to),
      ['serviceInterruption'],
      'the problem came back',
    );
    rules.evaluate(420_000, [check('healthy')], [open('serviceInterruption')], owns, onlyFailuresReported);
    const resolved = rules.evaluate(
      420_000 + 600_000,
      [check('healthy')],
      [open('restoringService')],
      owns,
      onlyFailuresReported,
    );
    assert.deepEqual(
      resolved.map((a) => a.kind),
      ['resolve'],
    );
  });

  it('moves to extendedRecovery while a backlog drains, and an advisory escalates to an incident', () => {
    const rules = new IncidentRules(times);
    const advisory = {
      ...open('serviceDegradation'),
      classification: 'advisory' as const,
      rule: 'destination:example.net',
    };
    const recovering = rules.evaluate(
      0,
      [check('recovering', 'advisory', 'destination:example.net')],
      [advisory],
      owns,
      onlyFailuresReported,
    );
    assert.deepEqual(
      recovering.map((a) => a.kind === 'status' && a.to),
      ['extendedRecovery'],
    );
    const escalated = rules.evaluate(
      60_000,
      [check('failing', 'incident', 'destination:example.net')],
      [advisory],
      owns,
      onlyFailuresReported,
    );
    assert.equal(escalated[0]?.kind === 'status' && escalated[0].escalate, true);
  });

  it('a destination no longer reported is healthy; a node rule of another node is not judged here', () => {
    const rules = new IncidentRules(times);
    const destination = { ...open('serviceDegradation'), rule: 'destination:example.net' };
    const other = { ...open('serviceInterruption'), id: 'MA1002', rule: 'listener:Imap@mail2' };
    const actions = rules.evaluate(
      0,
      [],
      [destination, other],
      (rule) => !rule.endsWith('@mail2'),
      onlyFailuresReported,
    );
    assert.deepEqual(
      actions.map((a) => a.kind === 'status' && [a.issueId, a.to]),
      [['MA1001', 'restoringService']],
    );
  });

  it("leaves an administrator's status alone while failing, and a falsePositive needs a new breach to reopen", () => {
    const rules = new IncidentRules(times);
    rules.evaluate(0, [check('failing')], [], owns, onlyFailuresReported);
    rules.evaluate(120_000, [check('failing')], [open('investigating')], owns, onlyFailuresReported);
    assert.deepEqual(
      rules.evaluate(
        180_000,
        [check('failing')],
        [open('restoringService', { statusByHoldfast: false })],
        owns,
        onlyFailuresReported,
      ),
      [],
    );
    // The administrator called it a false positive: the issue is gone while the check still fails.
    assert.deepEqual(
      rules.evaluate(240_000, [check('failing')], [], owns, onlyFailuresReported),
      [],
      'not reopened at once',
    );
    assert.deepEqual(rules.evaluate(300_000, [check('failing')], [], owns, onlyFailuresReported), []);
    assert.deepEqual(
      rules.evaluate(360_000, [check('failing')], [], owns, onlyFailuresReported).map((a) => a.kind),
      ['open'],
    );
  });
});
