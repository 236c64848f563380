// Per-destination concurrency, after Postfix's queue manager and TCP's congestion window: start with
// few parallel deliveries, grow slowly while they are all in use (additive increase: one slot per
// `limit` successes, at most one per `raiseEveryMs`), halve when the destination pushes back
// (multiplicative decrease, never below one), and remember a destination that is down for a short
// while instead of hammering it.
//
// A connection the destination refuses (421 at greeting, "too many connections", 4.3.2) says how many
// connections it takes: the concurrency that was refused becomes a ceiling the limit stays below,
// tried again only after `ceilingWaitMs`, doubled each time it is refused again. So a provider that
// allows 3 connections sees a fourth now and then, not at every success. Right after a refusal no
// delivery starts while none is in flight (`refusedHoldMs`), and a refusal while other deliveries
// to the destination go on is throttling, not an outage: its mail is tried again soon
// (`Released.retrySoon`) and it does not count towards marking the destination dead.
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
  /** The fractional window behind `limit` (limit = its integer part). */
  window: number;
  /** When the limit last rose. */
  raisedAt: number;
  /** A concurrency the destination refused: the limit stays below it until `ceilingRetryAt`. */
  ceiling: number | null;
  ceilingRetryAt: number;
  /** Refusals since the destination was last calm for `ceilingWaitMaxMs`: each doubles the wait. */
  refusalsInARow: number;
  lastRefusalAt: number;
  /** No delivery starts while none is in flight before this (a connection was refused just now). */
  holdUntil: number;
  /** Connections the destination refused, in all. */
  refused: number;
}

export interface DestinationPolicy {
  initial: number;
  max: number;
  /** Connection failures in a row that mark a destination dead. */
  deadAfter: number;
  deadForMs: number;
  /** While dead, one delivery every this often is let through to find out whether it is back. */
  probeEveryMs: number;
  /** After a refused connection, how long before a delivery starts again when none is in flight. */
  refusedHoldMs: number;
  /** The limit rises by at most one slot this often (a connection too many is refused well within it). */
  raiseEveryMs: number;
  /** How long the limit stays below a refused concurrency before trying it again; doubles per refusal. */
  ceilingWaitMs: number;
  ceilingWaitMaxMs: number;
}

export const defaultDestinationPolicy: DestinationPolicy = {
  initial: 2,
  max: 20,
  deadAfter: 3,
  deadForMs: 60_000,
  probeEveryMs: 5_000,
  refusedHoldMs: 2_000,
  raiseEveryMs: 1_000,
  ceilingWaitMs: 30_000,
  ceilingWaitMaxMs: 600_000,
};

/**
 * How a delivery went, for the concurrency: `refused` is a connection the destination would not take
 * (a 4xx to the connection, any 421, "too many connections"); `pushback` a 4xx to the transaction.
 */
export type DeliverySignal = 'success' | 'pushback' | 'refused' | 'unreachable' | 'neutral';

/**
 * Told each attempt's result as it is released (continuity mode watches its upstreams this way);
 * `throttled` is a refusal while other deliveries to the destination went on.
 */
export type DestinationObserver = (
  destination: string,
  result: DeliverySignal | 'throttled',
  reply: string | null,
) => void;

export interface Released {
  /** This success brought back a destination that was down. */
  back: boolean;
  /** A refused connection while others to the destination are open: try the mail again after `holdUntil`. */
  retrySoon: boolean;
  holdUntil: number;
}

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
        window: this.policy.initial,
        raisedAt: 0,
        ceiling: null,
        ceilingRetryAt: 0,
        refusalsInARow: 0,
        lastRefusalAt: 0,
        holdUntil: 0,
        refused: 0,
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
    if (state.active >= state.limit || this.holding(state)) return false;
    state.active++;
    return true;
  }

  /**
   * When a destination with nothing in flight may be tried again after a refusal (0: now, or when a
   * delivery in flight finishes): the caller wakes its waiting mail then.
   */
  heldUntil(destination: string): number {
    const state = this.state(destination);
    return this.holding(state) ? state.holdUntil : 0;
  }

  /** Gives the slot back with what the destination said: success grows, push-back and refusals shrink. */
  release(destination: string, result: DeliverySignal, reply: string | null = null): Released {
    const state = this.state(destination);
    const now = this.now();
    const inFlight = state.active;
    const wasDown = state.deadUntil > 0;
    state.active = Math.max(0, state.active - 1);
    const throttled = result === 'refused' && state.active > 0;
    this.observer?.(destination, throttled ? 'throttled' : result, reply);
    if (reply) state.lastReply = reply;
    if (result === 'success') this.grow(state, inFlight, now);
    else if (result === 'refused') this.refusedAt(state, inFlight, now, throttled);
    else if (result === 'pushback' || result === 'unreachable') {
      this.shrink(state, state.window);
      this.failed(state, result === 'unreachable', now);
    }
    return { back: result === 'success' && wasDown, retrySoon: throttled, holdUntil: state.holdUntil };
  }

  snapshot(): DestinationState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  private holding(state: DestinationState): boolean {
    return state.active === 0 && state.holdUntil > this.now();
  }

  /** Additive increase, while every slot is in use, one slot at a time, below a refused ceiling. */
  private grow(state: DestinationState, inFlight: number, now: number) {
    const { policy } = this;
    state.consecutiveFailures = 0;
    state.deadUntil = 0;
    if (now - state.lastRefusalAt >= policy.ceilingWaitMaxMs) state.refusalsInARow = 0;
    // As many deliveries at once as were refused, for long enough that a refusal would have shown.
    if (state.ceiling !== null && inFlight >= state.ceiling && now - state.raisedAt >= policy.raiseEveryMs)
      state.ceiling = null;
    if (inFlight < state.limit) return; // a slot unused says nothing about one more
    const next = Math.min(policy.max, state.window + 1 / state.limit);
    if (Math.floor(next) > state.limit) {
      const belowCeiling = state.ceiling === null || state.limit + 1 < state.ceiling || now >= state.ceilingRetryAt;
      if (now - state.raisedAt < policy.raiseEveryMs || !belowCeiling) return;
      state.raisedAt = now;
    }
    state.window = next;
    state.limit = Math.floor(next);
  }

  /** A connection refused with `inFlight` deliveries to the destination under way (this one included). */
  private refusedAt(state: DestinationState, inFlight: number, now: number, throttled: boolean) {
    const { policy } = this;
    state.refused++;
    state.holdUntil = now + policy.refusedHoldMs;
    if (now - state.lastRefusalAt >= policy.ceilingWaitMaxMs) state.refusalsInARow = 0;
    state.refusalsInARow++;
    state.lastRefusalAt = now;
    if (inFlight >= 2) {
      state.ceiling = inFlight;
      const wait = policy.ceilingWaitMs * 2 ** Math.min(state.refusalsInARow - 1, 20);
      state.ceilingRetryAt = now + Math.min(policy.ceilingWaitMaxMs, wait);
    }
    this.shrink(state, Math.min(state.window, inFlight));
    // Refused with nothing else open is an outage as far as this sender can tell.
    if (!throttled) this.failed(state, true, now);
  }

  private shrink(state: DestinationState, from: number) {
    state.window = Math.max(1, from / 2);
    state.limit = Math.floor(state.window);
  }

  private failed(state: DestinationState, connection: boolean, now: number) {
    state.consecutiveFailures++;
    if (!connection || state.consecutiveFailures < this.policy.deadAfter) return;
    // The first probe comes a probe interval later, not right after the failure that made it dead.
    if (state.deadUntil <= now) state.lastProbeAt = now;
    state.deadUntil = now + this.policy.deadForMs;
  }
}
