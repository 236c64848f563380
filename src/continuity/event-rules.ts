// When a continuity event starts, recovers and ends (pure, so the rules can be read and tested
// alone). An event starts by itself when the upstream has failed — probes and the queue's attempts
// alike, no success between — for `activate_after`. It recovers when the upstream accepts again (a
// success after its last failure), and an event an administrator started recovers only when they
// stop it: they may know more than the probe (users cannot reach the provider's mailboxes while its
// SMTP still answers). A recovering event is active again if the upstream fails for `activate_after`
// once more, and closes when the mail it held has gone upstream.
import { durationText } from '../health/issue-posts.ts';
import type { ContinuityEvent } from './continuity-events.ts';
import type { UpstreamRecord } from './upstream-record.ts';

export type EventDecision =
  | { kind: 'none' }
  | { kind: 'start'; reason: string }
  | { kind: 'recover'; reason: string }
  | { kind: 'reactivate'; reason: string }
  | { kind: 'replay' };

export function decide(
  record: UpstreamRecord,
  event: ContinuityEvent | undefined,
  now: number,
  activateAfterMs: number,
): EventDecision {
  const failingFor = record.failingSince === null ? 0 : now - record.failingSince;
  const lastFailure = record.lastReplies.filter((r) => !r.ok).at(-1)?.reply ?? 'no reply';
  if (!event) {
    if (record.failingSince !== null && failingFor >= activateAfterMs)
      return {
        kind: 'start',
        reason: `the upstream has deferred or refused mail for ${durationText(failingFor)} (last reply: ${lastFailure})`,
      };
    return { kind: 'none' };
  }
  if (event.state === 'active') {
    if (event.startedBy === 'automatic' && record.failingSince === null && record.lastSuccessAt !== null)
      return {
        kind: 'recover',
        reason: `the upstream accepts again (${record.lastReplies.filter((r) => r.ok).at(-1)?.reply ?? 'ok'})`,
      };
    return { kind: 'none' };
  }
  if (event.state === 'recovering') {
    if (
      record.failingSince !== null &&
      record.failingSince >= (event.recoveringSince ?? 0) &&
      failingFor >= activateAfterMs
    )
      return {
        kind: 'reactivate',
        reason: `the upstream fails again: for ${durationText(failingFor)} (last reply: ${lastFailure})`,
      };
    return { kind: 'replay' };
  }
  return { kind: 'none' };
}
