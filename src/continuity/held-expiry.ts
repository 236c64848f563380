// Mail held for a continuity upstream does not bounce at `queue.expire` because of the event: it was
// delivered into the users' Holdfast mailboxes and waits only for the upstream to come back. The
// queue (outcomes.ts) asks here, for mail it would expire, when its expiry clock started:
//  - never, while the upstream's event is active (it does not expire at all);
//  - when the event's recovery began (or when it closed), for mail that arrived before — so it has
//    the full `queue.expire` after the upstream came back to be accepted there;
//  - when it arrived, otherwise (mail for the upstream with no event since, other domains).
// The wait stays bounded: a recipient the upstream keeps deferring after it came back expires
// `queue.expire` after the recovery began, and then the event can close.
import type { Kysely } from 'kysely';
import type { ContinuitySettings } from '../config/schema.ts';
import type { Database } from '../store/schema.ts';
import { ContinuityEvents, type ContinuityEvent } from './continuity-events.ts';

/** When the expiry clock of mail received at `receivedAt` starts, given its upstream's latest event; null: not while it lasts. */
export function expiryStart(event: ContinuityEvent | undefined, receivedAt: number): number | null {
  if (!event) return receivedAt;
  if (event.state === 'active') return null;
  const cameBack = event.recoveringSince ?? event.endedAt;
  if (cameBack === null) return receivedAt;
  if (event.endedAt !== null && receivedAt > event.endedAt) return receivedAt;
  return Math.max(receivedAt, cameBack);
}

/**
 * For each item (a recipient's domain and its message's arrival), when its expiry clock starts
 * (see expiryStart); items of domains without an upstream start at their arrival.
 */
export async function expiryStarts(
  db: Kysely<Database>,
  settings: Pick<ContinuitySettings, 'upstreams'>,
  items: { domain: string; receivedAt: number }[],
): Promise<(number | null)[]> {
  const events = new ContinuityEvents(db);
  const latest = new Map<string, ContinuityEvent | undefined>();
  const starts: (number | null)[] = [];
  for (const item of items) {
    const upstream = settings.upstreams.find((u) => u.domains.includes(item.domain));
    if (!upstream) {
      starts.push(item.receivedAt);
      continue;
    }
    if (!latest.has(upstream.name)) latest.set(upstream.name, await events.latest(upstream.name));
    starts.push(expiryStart(latest.get(upstream.name), item.receivedAt));
  }
  return starts;
}
