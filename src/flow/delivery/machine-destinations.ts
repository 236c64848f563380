// The primary's side of machine-wide delivery concurrency under `holdfast start --workers N`: one
// DestinationControl for the whole machine (the same class and policy a single process uses), so
// growth, halving, learned ceilings, holds and dead destinations follow every worker's results, and
// the in-flight count the control learns from is the machine's. Workers hold slots it granted
// (worker-destinations.ts is their side): a worker asks for one when it has mail for a destination
// and none free ('dest-want'), gives it back with the delivery's outcome ('dest-release') or unused
// ('dest-return'). A want that cannot be granted at once waits in a queue per destination, served in
// turn as slots free up (or when a refusal's hold ends); a destination found dead drops the queue, and
// its probes are granted one at a time, machine-wide. A connection a worker keeps open after a
// delivery, for its next message there, keeps its slot: the machine counts open connections, not only
// deliveries; a kept slot is asked back ('dest-revoke') when another worker waits for one. Every change is sent to every worker, with the
// destination's state as the machine sees it. A worker that exits gives back everything it held.
// Pure bookkeeping: the caller (server/workers.ts) carries the messages.
import {
  type DeliverySignal,
  DestinationControl,
  type DestinationPolicy,
  type DestinationState,
  defaultDestinationPolicy,
} from './destination-control.ts';

/**
 * A destination's state as the primary tells one worker: the machine's, except `active`, which counts
 * the slots held by the other workers (the worker adds its own); `waiting`: other workers waiting
 * for a slot.
 */
export type SharedDestinationState = DestinationState & { waiting?: number };

/** What a worker asks of the primary about destinations. */
export type DestinationRequest =
  /** A slot for `destination` (a probe if it is dead), answered by 'dest-answer' with the same id. */
  | { holdfast: 'dest-want'; id: number; destination: string; probe: boolean }
  /**
   * A delivery ended, with what the destination did and said; `keep`: its connection stays open, idle,
   * for the worker's next message there, and the worker keeps the slot with it (until 'dest-return').
   */
  | { holdfast: 'dest-release'; destination: string; signal: DeliverySignal; reply: string | null; keep?: boolean }
  /** Granted slots given back unused. */
  | { holdfast: 'dest-return'; destination: string; slots: number };

/** What the primary tells a worker about destinations; each carries the destination's state. */
export type DestinationAnswer =
  /** The answer to 'dest-want' `id`: granted now, or queued (a 'dest-grant' follows), or neither. */
  | { holdfast: 'dest-answer'; id: number; granted: boolean; queued: boolean; state: SharedDestinationState }
  /** A queued want, granted a slot now, or dropped (the destination is dead: ask for a probe instead). */
  | { holdfast: 'dest-grant'; granted: boolean; state: SharedDestinationState }
  /** The destination changed (another worker's delivery, a grant, a probe). */
  | { holdfast: 'dest-state'; state: SharedDestinationState }
  /**
   * Give back the slots kept with idle connections (closing those first): another worker waits for
   * one, or the machine is over the destination's limit. Slots in use are not affected.
   */
  | { holdfast: 'dest-revoke'; state: SharedDestinationState };

export function isDestinationRequest(message: { holdfast: string }): message is DestinationRequest {
  return message.holdfast.startsWith('dest-');
}

export class MachineDestinations {
  readonly control: DestinationControl;
  /** Slots granted and not given back, by worker (node:cluster's id), by destination. */
  private readonly held = new Map<number, Map<string, number>>();
  /** Workers waiting for a slot, in turn, by destination (a worker at most once). */
  private readonly wants = new Map<string, number[]>();
  /** Per destination with queued wants: when a refusal's hold ends, they are served. */
  private readonly holdTimers = new Map<string, NodeJS.Timeout>();

  /**
   * `send` carries a message to a worker; `workers` lists the running workers (each is told of every
   * change to a destination).
   */
  constructor(
    private readonly send: (workerId: number, message: DestinationAnswer) => void,
    private readonly workers: () => number[],
    private readonly now: () => number = Date.now,
    policy: DestinationPolicy = defaultDestinationPolicy,
  ) {
    this.control = new DestinationControl(now, policy);
  }

  /** A worker's message about destinations. */
  receive(workerId: number, message: DestinationRequest) {
    const { destination } = message;
    if (message.holdfast === 'dest-want') {
      const { control } = this;
      let granted = false;
      let queued = false;
      let served: Served = { granted: [], dropped: [], revoked: [] };
      if (control.isDead(destination)) {
        // One probe at a time on the whole machine, every probe interval.
        if (message.probe && control.tryProbe(destination)) {
          this.hold(workerId, destination, 1);
          granted = true;
        }
      } else {
        const queue = this.wants.get(destination) ?? [];
        if (!queue.includes(workerId)) queue.push(workerId);
        this.wants.set(destination, queue);
        served = this.serve(destination);
        granted = served.granted.includes(workerId);
        queued = this.wants.get(destination)?.includes(workerId) ?? false;
        // Slots other workers keep with an idle connection are asked back for it.
        if (queued)
          for (const other of this.workers())
            if (other !== workerId && this.heldBy(other, destination)) served.revoked.push(other);
      }
      this.tell(destination, served, { workerId, id: message.id, granted, queued });
    } else if (message.holdfast === 'dest-release') {
      if (!this.heldBy(workerId, destination)) return;
      this.control.release(destination, message.signal, message.reply);
      if (message.keep) {
        // The connection is still open: it keeps counting, whether the limit has room for it or not.
        if (!this.control.tryAcquire(destination)) this.control.state(destination).active++;
      } else this.unhold(workerId, destination, 1);
      const served = this.serve(destination);
      const state = this.control.state(destination);
      // Over the limit (it was lowered), a kept slot is asked back (its connection closed first, so
      // that no one opens one while it is still open). With others waiting, the worker yields one
      // of its slots now and then itself (worker-destinations.ts).
      if (message.keep && state.active > state.limit) served.revoked.push(workerId);
      this.tell(destination, served);
    } else if (message.holdfast === 'dest-return') {
      const slots = this.unhold(workerId, destination, message.slots);
      // A slot unused says nothing about the destination: 'neutral' only frees it.
      for (let i = 0; i < slots; i++) this.control.release(destination, 'neutral');
      if (slots) this.tell(destination, this.serve(destination));
    }
  }

  /** A worker exited: its slots are free and its wants forgotten. Returns how many slots it held. */
  workerGone(workerId: number): number {
    const mine = this.held.get(workerId);
    this.held.delete(workerId);
    const touched = new Set(mine?.keys());
    let released = 0;
    for (const [destination, slots] of mine ?? []) {
      for (let i = 0; i < slots; i++) this.control.release(destination, 'neutral');
      released += slots;
    }
    for (const [destination, queue] of this.wants) {
      const at = queue.indexOf(workerId);
      if (at < 0) continue;
      queue.splice(at, 1);
      touched.add(destination);
    }
    for (const destination of touched) this.tell(destination, this.serve(destination));
    return released;
  }

  /** Slots a worker holds for a destination. */
  heldBy(workerId: number, destination: string): number {
    return this.held.get(workerId)?.get(destination) ?? 0;
  }

  stop() {
    for (const timer of this.holdTimers.values()) clearTimeout(timer);
    this.holdTimers.clear();
  }

  /** Grants queued wants in turn while the control has slots; a dead destination drops them all. */
  private serve(destination: string): Served {
    const served: Served = { granted: [], dropped: [], revoked: [] };
    const queue = this.wants.get(destination);
    if (!queue) return served;
    if (this.control.isDead(destination)) served.dropped = queue.splice(0);
    while (queue.length && this.control.tryAcquire(destination)) {
      const workerId = queue.shift()!;
      this.hold(workerId, destination, 1);
      served.granted.push(workerId);
    }
    if (queue.length === 0) this.wants.delete(destination);
    const heldUntil = this.control.heldUntil(destination);
    if (queue.length && heldUntil && !this.holdTimers.has(destination)) {
      const timer = setTimeout(
        () => {
          this.holdTimers.delete(destination);
          this.tell(destination, this.serve(destination));
        },
        Math.max(0, heldUntil - this.now()) + 1,
      );
      timer.unref();
      this.holdTimers.set(destination, timer);
    }
    return served;
  }

  /** Tells every worker what changed: the asker its answer, those served their grant, the others the state. */
  private tell(
    destination: string,
    served: Served,
    asker?: { workerId: number; id: number; granted: boolean; queued: boolean },
  ) {
    const live = this.control.state(destination);
    const queue = this.wants.get(destination) ?? [];
    for (const workerId of this.workers()) {
      const state = {
        ...live,
        active: live.active - this.heldBy(workerId, destination),
        waiting: queue.filter((id) => id !== workerId).length,
      };
      if (asker?.workerId === workerId)
        this.send(workerId, {
          holdfast: 'dest-answer',
          id: asker.id,
          granted: asker.granted,
          queued: asker.queued,
          state,
        });
      else if (served.granted.includes(workerId)) this.send(workerId, { holdfast: 'dest-grant', granted: true, state });
      else if (served.dropped.includes(workerId))
        this.send(workerId, { holdfast: 'dest-grant', granted: false, state });
      else if (served.revoked.includes(workerId)) this.send(workerId, { holdfast: 'dest-revoke', state });
      else this.send(workerId, { holdfast: 'dest-state', state });
    }
  }

  private hold(workerId: number, destination: string, slots: number) {
    let mine = this.held.get(workerId);
    if (!mine) this.held.set(workerId, (mine = new Map()));
    mine.set(destination, (mine.get(destination) ?? 0) + slots);
  }

  /** Takes up to `slots` of the worker's slots for the destination off its count: how many it held of them. */
  private unhold(workerId: number, destination: string, slots: number): number {
    const mine = this.held.get(workerId);
    const count = mine?.get(destination) ?? 0;
    const taken = Math.min(count, Math.max(0, slots));
    if (!mine || taken === 0) return 0;
    if (count === taken) mine.delete(destination);
    else mine.set(destination, count - taken);
    if (mine.size === 0) this.held.delete(workerId);
    return taken;
  }
}

interface Served {
  granted: number[];
  dropped: number[];
  /** Workers asked to give back a kept slot. */
  revoked: number[];
}
