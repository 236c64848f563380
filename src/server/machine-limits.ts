// The primary's machine-wide counts under `holdfast start --workers N`: the limits an administrator
// sets per client address, per resource forest or per user (smtp.max_connections_per_ip, a forest's
// --max-connections, imap.max_connections_per_user) hold for the whole machine, not once per worker. Workers ask the primary for a slot (take) and
// give it back when the connection ends; the primary alone decides, so two workers can never both
// take the last slot. It also remembers which worker holds what, so a worker that dies gives back
// everything at once (its connections died with it). Pure bookkeeping: workers.ts carries the messages.
import type { LimitKind } from './worker-messages.ts';

const slotKey = (kind: LimitKind, key: string) => `${kind}\0${key}`;

export class MachineLimits {
  /** Slots in use on the whole machine, by kind + key. */
  private readonly inUse = new Map<string, number>();
  /** What each worker holds (by node:cluster's worker id: a restarted worker has a new one), by kind + key. */
  private readonly held = new Map<number, Map<string, number>>();

  /** Takes one of `max` slots of kind + key for the worker: whether it did. */
  take(workerId: number, kind: LimitKind, key: string, max: number): boolean {
    const k = slotKey(kind, key);
    const count = this.inUse.get(k) ?? 0;
    if (count >= max) return false;
    this.inUse.set(k, count + 1);
    let mine = this.held.get(workerId);
    if (!mine) this.held.set(workerId, (mine = new Map()));
    mine.set(k, (mine.get(k) ?? 0) + 1);
    return true;
  }

  /** Gives back one slot the worker holds (a give for a slot it does not hold changes nothing). */
  give(workerId: number, kind: LimitKind, key: string) {
    const k = slotKey(kind, key);
    const mine = this.held.get(workerId);
    const count = mine?.get(k) ?? 0;
    if (!mine || count <= 0) return;
    if (count === 1) mine.delete(k);
    else mine.set(k, count - 1);
    if (mine.size === 0) this.held.delete(workerId);
    this.release(k, 1);
  }

  /** Gives back everything a worker holds (it exited); returns how many slots that was. */
  releaseWorker(workerId: number): number {
    const mine = this.held.get(workerId);
    if (!mine) return 0;
    this.held.delete(workerId);
    let released = 0;
    for (const [k, count] of mine) {
      this.release(k, count);
      released += count;
    }
    return released;
  }

  /** Slots in use of kind + key on the whole machine. */
  count(kind: LimitKind, key: string): number {
    return this.inUse.get(slotKey(kind, key)) ?? 0;
  }

  private release(k: string, count: number) {
    const left = (this.inUse.get(k) ?? 0) - count;
    if (left > 0) this.inUse.set(k, left);
    else this.inUse.delete(k);
  }
}
