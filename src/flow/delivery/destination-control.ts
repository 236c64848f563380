// Per-destination concurrency, after Postfix's queue manager: start with few parallel deliveries,
// grow on success, halve when the destination pushes back (421, 4xx connection limits, failures
// to connect), and remember a destination that is down for a short while instead of hammering it.
// This is how Holdfast behaves as a sender when the other side has an outage like June 2026's.

export interface DestinationState {
  destination: string;
  limit: number;
  active: number;
  deadUntil: number;
  /** When a delivery last went through to a dead destination to see whether it is back. */
  lastProbeAt: number;
  consecutiveFailures: number;
  lastReply: string | null;
}

export interface DestinationPolicy {
  initial: number;
  max: number;
  /** Connection failures in a row that mark a destination dead. */
  deadAfter: number;
  deadForMs: number;
  /** While dead, one delivery every this often is let through to find out whether it is back. */
  probeEveryMs: number;
}

export const defaultDestinationPolicy: DestinationPolicy = {
  initial: 2,
  max: 20,
  deadAfter: 3,
  deadForMs: 60_000,
  probeEveryMs: 5_000,
};

/** Told each attempt's result as it is released (continuity mode watches its upstreams this way). */
export type DestinationObserver = (
  destination: string,
  result: 'success' | 'pushback' | 'unreachable' | 'neutral',
  reply: string | null,
) => void;

export class DestinationControl {
  private readonly states = new Map<string, DestinationState>();

  constructor(
    private readonly now: () => number,
    private readonly policy: DestinationPolicy = defaultDestinationPolicy,
    private readonly observer?: DestinationObserver,
  ) {}

  state(destination: string): DestinationState {
    let state = this.states.get(destination);
    if (!state) {
      state = {
        destination,
        limit: this.policy.initial,
        active: 0,
        deadUntil: 0,
        lastProbeAt: 0,
        consecutiveFailures: 0,
        lastReply: null,
      };
      this.states.set(destination, state);
    }
    return state;
  }

  isDead(destination: string): boolean {
    return this.state(destination).deadUntil > this.now();
  }

  /**
   * Whether a delivery to a dead destination may go ahead as a probe (one at a time, every few
   * seconds): a destination that comes back is found at once, not when its dead time runs out.
   */
  tryProbe(destination: string): boolean {
    const state = this.state(destination);
    const now = this.now();
    if (state.active > 0 || now - state.lastProbeAt < this.policy.probeEveryMs) return false;
    state.lastProbeAt = now;
    state.active++;
    return true;
  }

  /** Takes a delivery slot if the destination has one free. */
  tryAcquire(destination: string): boolean {
    const state = this.state(destination);
    if (state.active >= state.limit) return false;
    state.active++;
    return true;
  }

  /**
   * Gives the slot back with what the destination said: success grows, push-back shrinks. Returns
   * true when this success brought back a destination that was down.
   */
  release(
    destination: string,
    result: 'success' | 'pushback' | 'unreachable' | 'neutral',
    reply: string | null = null,
  ): boolean {
    const state = this.state(destination);
    const wasDown = state.deadUntil > 0;
    state.active = Math.max(0, state.active - 1);
    this.observer?.(destination, result, reply);
    if (reply) state.lastReply = reply;
    if (result === 'success') {
      state.consecutiveFailures = 0;
      state.deadUntil = 0;
      state.limit = Math.min(this.policy.max, state.limit + 1);
    } else if (result === 'pushback' || result === 'unreachable') {
      state.limit = Math.max(1, Math.floor(state.limit / 2));
      state.consecutiveFailures++;
      if (result === 'unreachable' && state.consecutiveFailures >= this.policy.deadAfter)
        state.deadUntil = this.now() + this.policy.deadForMs;
    }
    return result === 'success' && wasDown;
  }

  snapshot(): DestinationState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }
}
