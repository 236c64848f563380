// A worker's per-destination concurrency under `holdfast start --workers N`: the interface of
// DestinationControl, backed by slots the primary grants (machine-destinations.ts keeps the machine's
// control). The queue runner's calls stay synchronous: `tryAcquire` and `tryProbe` succeed against a
// slot already granted to this worker; with none free they ask the primary (one request in flight per
// destination) and say no for now. When the grant arrives the runner is woken (`onWake`) and takes
// it; a grant it no longer needs goes back at once. A delivery that leaves its connection open for
// the next message keeps its slot with it for a second (asked back by the primary when another
// worker waits), and a slot goes back only once its idle connection is closed: the machine never
// has more connections open to a destination than slots granted. `release` sends the delivery's signal and reply to
// the primary and answers the runner from the destination's state as last heard (updated by every
// message of the primary): whether this success brought the destination back, whether a refusal is
// throttling (others in flight) and when a refusal's hold ends. Whether a destination is dead, its
// holds and its probes are the primary's: only one probe per machine goes to a destination that is
// down. If the primary does not answer within 500 ms (busy, or its channel closed) the worker uses a
// control of its own, as a single process does, until the primary answers again (asked again at
// most once a second); slots taken from either are given back to the one they came from.
import type { Logger } from '../../logging/logger.ts';
import {
  type DeliverySignal,
  DestinationControl,
  type DestinationObserver,
  type DestinationPolicy,
  type DestinationState,
  defaultDestinationPolicy,
  type Released,
} from './destination-control.ts';
import type { DestinationAnswer, DestinationRequest, SharedDestinationState } from './machine-destinations.ts';

/** How long a worker waits for the primary's answer before using its own control. */
export const defaultDestinationAnswerMs = 500;
/** In a worker's own control, how often the primary is asked again whether it answers. */
const retryPrimaryMs = 1000;
/** How long a slot is kept, with the connection its delivery left open, for the worker's next message there. */
export const keepSlotMs = 1000;

/** The connections the worker keeps open between messages (SmtpClient): each one idle holds a slot. */
export interface IdleConnections {
  idleFor(destination: string): number;
  closeIdle(destination: string, count: number): Promise<void>;
}

/** How the worker reaches the primary (process.send in a worker; a fake in tests). */
export interface DestinationChannel {
  connected(): boolean;
  send(message: DestinationRequest, done: (error: Error | null) => void): void;
}

interface Slots {
  /** Granted by the primary, not taken by a delivery: kept with an idle connection, or just granted. */
  free: number;
  /** Gives back the kept slots that were not used again in time. */
  keepTimer?: NodeJS.Timeout;
  /** When this worker last gave a slot it would have kept to the other workers waiting. */
  yieldedAt: number;
  /** Granted by the primary, taken by a delivery in flight. */
  inUse: number;
  /** Taken from this worker's own control (the primary did not answer), in flight. */
  local: number;
  /** The want in flight: its id and its timeout. */
  asking?: { id: number; timer: NodeJS.Timeout };
  /** A want the primary queued: a grant (or a drop) follows. */
  queued: boolean;
}

export class WorkerDestinations extends DestinationControl {
  /** The control used while the primary does not answer. */
  readonly local: DestinationControl;
  /** Each destination as the primary last told it (`active`: the other workers' slots). */
  private readonly shared = new Map<string, SharedDestinationState>();
  private readonly slots = new Map<string, Slots>();
  /** Gives the initial state of a destination the primary has not spoken of. */
  private readonly blank: DestinationControl;
  private nextId = 1;
  /** Since when the primary has not answered (undefined: it answers). */
  private unansweredSince: number | undefined;
  private lastAskAt = 0;
  private wake?: (destination: string) => void;
  private connections?: IdleConnections;

  constructor(
    private readonly channel: DestinationChannel,
    private readonly log: Logger,
    private readonly clock: () => number,
    private readonly rules: DestinationPolicy = defaultDestinationPolicy,
    private readonly watch?: DestinationObserver,
    private readonly answerMs = defaultDestinationAnswerMs,
  ) {
    super(clock, rules, watch);
    this.local = new DestinationControl(clock, rules, watch);
    this.blank = new DestinationControl(clock, rules);
  }

  /** The queue runner looks at a destination's waiting mail again (a slot was granted, the state changed). */
  onWake(wake: (destination: string) => void) {
    this.wake = wake;
  }

  /**
   * The worker's open connections: a delivery that leaves its connection open for the next message
   * keeps its slot with it, and a slot goes back only once its idle connection is closed.
   */
  useConnections(connections: IdleConnections) {
    this.connections = connections;
  }

  /** Whether the primary answers (false: this worker's own control decides). */
  get machineWide(): boolean {
    return this.unansweredSince === undefined;
  }

  override state(destination: string): DestinationState {
    if (!this.machineWide) return this.local.state(destination);
    const slots = this.slotsOf(destination);
    const view = this.view(destination);
    // A request in flight counts as a delivery: the runner waits for its answer rather than giving up.
    return { ...view, active: view.active + slots.inUse + slots.local + (slots.asking ? 1 : 0) };
  }

  /** Dead as the primary says; when a probe is due and none is in flight on the machine, one is asked for. */
  override isDead(destination: string): boolean {
    if (!this.machineWide) return this.local.isDead(destination);
    const dead = this.view(destination).deadUntil > this.clock();
    if (dead && this.probeDue(destination)) this.ask(destination, true);
    return dead;
  }

  override tryProbe(destination: string): boolean {
    if (!this.machineWide) return this.takeLocal(destination, this.local.tryProbe(destination));
    if (this.takeGranted(destination)) return true;
    if (this.probeDue(destination)) this.ask(destination, true);
    return false;
  }

  override tryAcquire(destination: string): boolean {
    if (!this.machineWide) {
      this.askAgain(destination);
      return this.takeLocal(destination, this.local.tryAcquire(destination));
    }
    if (this.takeGranted(destination)) return true;
    const slots = this.slotsOf(destination);
    if (!slots.asking && !slots.queued) this.ask(destination, false);
    return false;
  }

  override heldUntil(destination: string): number {
    if (!this.machineWide) return this.local.heldUntil(destination);
    const view = this.view(destination);
    const slots = this.slotsOf(destination);
    return view.active + slots.inUse + slots.local === 0 && view.holdUntil > this.clock() ? view.holdUntil : 0;
  }

  override release(destination: string, result: DeliverySignal, reply: string | null = null): Released {
    const slots = this.slotsOf(destination);
    if (slots.local > 0 && (!this.machineWide || slots.inUse === 0)) {
      slots.local--;
      return this.local.release(destination, result, reply);
    }
    if (slots.inUse === 0) return this.local.release(destination, result, reply);
    slots.inUse--;
    const now = this.clock();
    const view = this.view(destination);
    const wasDown = view.deadUntil > 0;
    const throttled = result === 'refused' && view.active + slots.inUse + slots.local > 0;
    this.watch?.(destination, throttled ? 'throttled' : result, reply);
    // The delivery's connection stays open for the next message there: the slot stays with it.
    const keep = this.idle(destination) > slots.free;
    if (keep) {
      slots.free++;
      this.keepFor(destination);
    }
    if (this.channel.connected())
      this.channel.send({ holdfast: 'dest-release', destination, signal: result, reply, keep }, () => {});
    // Other workers wait for a slot: once a keep time, one goes to them (with its connection closed)
    // rather than to this worker's next message; a busy worker never keeps the destination to itself.
    if (keep && (view.waiting ?? 0) > 0 && now - slots.yieldedAt >= keepSlotMs) {
      slots.yieldedAt = now;
      this.giveBack(destination, 1);
    }
    // Until the primary's word arrives: a success ends a dead spell, a refusal holds.
    const next = { ...view, lastReply: reply ?? view.lastReply };
    if (result === 'success') Object.assign(next, { deadUntil: 0, consecutiveFailures: 0 });
    if (result === 'refused') next.holdUntil = now + this.rules.refusedHoldMs;
    this.shared.set(destination, next);
    return { back: result === 'success' && wasDown, retrySoon: throttled, holdUntil: next.holdUntil };
  }

  override snapshot(): DestinationState[] {
    if (!this.machineWide) return this.local.snapshot();
    return [...this.shared.keys()].map((destination) => this.state(destination));
  }

  /** A message from the primary: true if it was about destinations. */
  receive(message: DestinationAnswer | { holdfast: string }): boolean {
    const answer = message as DestinationAnswer;
    if (!['dest-answer', 'dest-grant', 'dest-state', 'dest-revoke'].includes(answer.holdfast)) return false;
    const { destination } = answer.state;
    this.shared.set(destination, answer.state);
    const slots = this.slotsOf(destination);
    if (answer.holdfast === 'dest-answer') {
      if (slots.asking?.id === answer.id) {
        clearTimeout(slots.asking.timer);
        slots.asking = undefined;
      }
      this.answered();
      if (answer.granted) slots.free++;
      slots.queued = answer.queued;
    } else if (answer.holdfast === 'dest-grant') {
      slots.queued = false;
      if (answer.granted) slots.free++;
    } else if (answer.holdfast === 'dest-revoke') {
      this.giveBack(destination, slots.free);
      return true;
    }
    this.wake?.(destination);
    // A grant the runner did not take (its mail went otherwise) goes back: the machine counts it in
    // flight. Those kept with an idle connection wait a moment for the next message.
    this.giveBack(destination, slots.free - this.idle(destination));
    return true;
  }

  private view(destination: string): SharedDestinationState {
    return this.shared.get(destination) ?? { ...this.blank.state(destination) };
  }

  private slotsOf(destination: string): Slots {
    let slots = this.slots.get(destination);
    if (!slots) this.slots.set(destination, (slots = { free: 0, inUse: 0, local: 0, queued: false, yieldedAt: 0 }));
    return slots;
  }

  /** A probe of a dead destination is due on the machine, and this worker has not asked for it yet. */
  private probeDue(destination: string): boolean {
    const view = this.view(destination);
    const slots = this.slotsOf(destination);
    return (
      !slots.asking &&
      slots.free === 0 &&
      view.active + slots.inUse + slots.local === 0 &&
      this.clock() - view.lastProbeAt >= this.rules.probeEveryMs
    );
  }

  private takeGranted(destination: string): boolean {
    const slots = this.slotsOf(destination);
    if (slots.free === 0) return false;
    slots.free--;
    slots.inUse++;
    if (slots.free === 0) {
      clearTimeout(slots.keepTimer);
      slots.keepTimer = undefined;
    }
    return true;
  }

  private idle(destination: string): number {
    return this.connections?.idleFor(destination) ?? 0;
  }

  /** Kept slots not used again within keepSlotMs go back (with their connections). */
  private keepFor(destination: string) {
    const slots = this.slotsOf(destination);
    clearTimeout(slots.keepTimer);
    slots.keepTimer = setTimeout(() => {
      slots.keepTimer = undefined;
      this.giveBack(destination, slots.free);
    }, keepSlotMs);
    slots.keepTimer.unref();
  }

  /**
   * Gives `count` free slots back to the primary: first closing the idle connections they kept open,
   * so that no other worker opens one while they still count at the destination.
   */
  private giveBack(destination: string, count: number) {
    const slots = this.slotsOf(destination);
    const n = Math.min(count, slots.free);
    if (n <= 0) return;
    slots.free -= n;
    if (slots.free === 0) {
      clearTimeout(slots.keepTimer);
      slots.keepTimer = undefined;
    }
    const excess = this.idle(destination) - slots.free;
    const give = () => {
      if (this.channel.connected()) this.channel.send({ holdfast: 'dest-return', destination, slots: n }, () => {});
    };
    if (excess > 0 && this.connections)
      void this.connections
        .closeIdle(destination, excess)
        .catch(() => {})
        .then(give);
    else give();
  }

  private takeLocal(destination: string, taken: boolean): boolean {
    if (taken) this.slotsOf(destination).local++;
    return taken;
  }

  private ask(destination: string, probe: boolean) {
    const slots = this.slotsOf(destination);
    if (!this.channel.connected()) return this.unanswered(destination, 'the channel to the primary is closed');
    const id = this.nextId++;
    this.lastAskAt = this.clock();
    const timer = setTimeout(() => {
      if (slots.asking?.id !== id) return;
      slots.asking = undefined;
      this.unanswered(destination, `no answer within ${this.answerMs} ms`);
    }, this.answerMs);
    timer.unref();
    slots.asking = { id, timer };
    this.channel.send({ holdfast: 'dest-want', id, destination, probe }, (error) => {
      if (!error || slots.asking?.id !== id) return;
      clearTimeout(timer);
      slots.asking = undefined;
      this.unanswered(destination, error.message);
    });
  }

  /** In this worker's own control: whether the primary answers again, asked at most once a second. */
  private askAgain(destination: string) {
    const slots = this.slotsOf(destination);
    if (slots.asking || this.clock() - this.lastAskAt < retryPrimaryMs) return;
    this.ask(destination, false);
  }

  private unanswered(destination: string, reason: string) {
    if (this.unansweredSince === undefined) {
      this.unansweredSince = this.clock();
      this.log.warn(
        { reason },
        "machine-wide delivery concurrency: the primary did not answer; this worker's own control decides until it does",
      );
    }
    // The runner looks again, now against this worker's own control (later: it may be in a call of ours).
    setImmediate(() => this.wake?.(destination));
  }

  private answered() {
    if (this.unansweredSince === undefined) return;
    this.log.info(
      { afterMs: this.clock() - this.unansweredSince },
      'machine-wide delivery concurrency: the primary answers again',
    );
    this.unansweredSince = undefined;
  }
}
