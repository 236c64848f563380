// The queue's own attempts at the continuity upstreams, as this node sees them: each delivery's
// result is noted here as it happens (the DestinationControl's observer) and written to the store
// about once a second (upstream-record.ts), so that a failing upstream is noticed from real mail
// as well as from the probe, on whichever node delivered it.
import type { ContinuitySettings, RelayRoute } from '../config/schema.ts';
import type { DestinationObserver } from '../flow/delivery/destination-control.ts';
import { destinationOf } from '../flow/delivery/remote-delivery.ts';
import type { UpstreamObservation } from './upstream-record.ts';

/** Observations kept per upstream between two writes (the newest win; a run of them says the same). */
const keptPerUpstream = 50;

export class UpstreamWatch {
  /** Destination key (as the queue runner names it) → upstream name. */
  private readonly upstreamOf = new Map<string, string>();
  private pending = new Map<string, UpstreamObservation[]>();

  constructor(
    settings: ContinuitySettings,
    relays: RelayRoute[],
    private readonly now: () => number,
  ) {
    for (const upstream of settings.upstreams)
      for (const domain of upstream.domains) this.upstreamOf.set(destinationOf(relays, domain), upstream.name);
  }

  /**
   * For DestinationControl: a success is an answer; push-back, refusals and unreachable are failures,
   * except a connection refused while others to the upstream were accepted (throttling during a
   * replay: the upstream answers, it wants fewer connections).
   */
  readonly observer: DestinationObserver = (destination, result, reply) => {
    const name = this.upstreamOf.get(destination);
    if (!name || result === 'neutral' || result === 'throttled') return;
    const ok = result === 'success';
    const list = this.pending.get(name) ?? [];
    list.push({
      at: this.now(),
      ok,
      reply: reply ?? (ok ? 'accepted' : 'no reply (connection failed)'),
      source: 'delivery',
    });
    this.pending.set(name, list.slice(-keptPerUpstream));
  };

  /** What was observed since the last call, per upstream. */
  take(): Map<string, UpstreamObservation[]> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }
}
