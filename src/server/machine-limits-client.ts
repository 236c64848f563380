// A worker's side of the machine-wide limits (machine-limits.ts keeps the counts in the primary):
// asks the primary for a slot over the cluster channel and gives it back when the connection ends.
// A request the primary does not answer within a short time (it is busy, or gone) resolves as "no
// answer", and the service then counts its own connections as a single process would: a connection
// never waits on the primary for long. A grant that arrives after that is given back at once, since
// the connection was not counted against it. What this worker holds is remembered per kind + key,
// so a give for a slot decided locally sends nothing.
import type { Logger } from '../logging/logger.ts';
import type { LimitKind, PrimaryMessage, WorkerMessage } from './worker-messages.ts';

/** How long a worker waits for the primary's answer before counting locally. */
export const defaultAnswerTimeoutMs = 500;

/** How the client reaches the primary (process.send in a worker; a fake in tests). */
export interface PrimaryChannel {
  connected(): boolean;
  /** Sends a message; `done` is called once it was handed over or could not be. */
  send(message: WorkerMessage, done: (error: Error | null) => void): void;
}

/** One kind of machine-wide count with its limit, as the services use it. */
export interface MachineCount {
  /** Takes a slot of `key`: true if taken, false if all `max` are in use, undefined if the primary did not answer. */
  take(key: string): Promise<boolean | undefined>;
  /** Gives back a slot `take` took (nothing is sent for one the primary did not grant). */
  give(key: string): void;
}

/** A machine-wide count whose limit comes with each take (a resource forest's limit is the forest's own). */
export interface MachineLimit {
  /** Takes a slot of `key` if fewer than `max` are in use: true if taken, false if not, undefined if the primary did not answer. */
  take(key: string, max: number): Promise<boolean | undefined>;
  /** Gives back a slot `take` took (nothing is sent for one the primary did not grant). */
  give(key: string): void;
}

interface Pending {
  resolve(granted: boolean | undefined): void;
  timer: NodeJS.Timeout;
  kind: LimitKind;
  key: string;
}

export class MachineLimitsClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * Requests whose wait ended before the answer (the primary answers every take unless it dies, and
   * then this worker ends with it): a late grant is given back.
   */
  private readonly late = new Map<number, { kind: LimitKind; key: string }>();
  /** Slots the primary granted this worker and it has not given back, by kind + key. */
  private readonly held = new Map<string, number>();
  /** The primary missed an answer: logged once, until it answers in time again. */
  private unanswered = false;

  constructor(
    private readonly channel: PrimaryChannel,
    private readonly log: Logger,
    private readonly answerTimeoutMs = defaultAnswerTimeoutMs,
  ) {}

  /** The count of one kind, with its limit. */
  count(kind: LimitKind, max: number): MachineCount {
    return { take: (key) => this.take(kind, key, max), give: (key) => this.give(kind, key) };
  }

  /** The count of one kind whose limit differs by key, given at each take. */
  limit(kind: LimitKind): MachineLimit {
    return { take: (key, max) => this.take(kind, key, max), give: (key) => this.give(kind, key) };
  }

  /** A message from the primary: true if it was an answer to one of ours. */
  receive(message: PrimaryMessage): boolean {
    if (message.holdfast !== 'taken') return false;
    const request = this.pending.get(message.id);
    if (!request) {
      // Answered after the wait was over: the connection was counted locally, so the slot goes back.
      const late = this.late.get(message.id);
      this.late.delete(message.id);
      if (late && message.granted) this.channel.send({ holdfast: 'give', ...late }, () => {});
      return true;
    }
    this.pending.delete(message.id);
    clearTimeout(request.timer);
    if (this.unanswered) {
      this.unanswered = false;
      this.log.info('machine-wide limits: the primary answers again; connections are counted per machine');
    }
    if (message.granted) {
      const k = `${request.kind}\0${request.key}`;
      this.held.set(k, (this.held.get(k) ?? 0) + 1);
    }
    request.resolve(message.granted);
    return true;
  }

  private take(kind: LimitKind, key: string, max: number): Promise<boolean | undefined> {
    if (!this.channel.connected()) {
      this.missed('the channel to the primary is closed');
      return Promise.resolve(undefined);
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.late.set(id, { kind, key });
        this.missed(`no answer within ${this.answerTimeoutMs} ms`);
        resolve(undefined);
      }, this.answerTimeoutMs);
      this.pending.set(id, { resolve, timer, kind, key });
      this.channel.send({ holdfast: 'take', id, kind, key, max }, (error) => {
        if (!error || !this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        this.missed(error.message);
        resolve(undefined);
      });
    });
  }

  private give(kind: LimitKind, key: string) {
    const k = `${kind}\0${key}`;
    const count = this.held.get(k) ?? 0;
    if (count <= 0) return;
    if (count === 1) this.held.delete(k);
    else this.held.set(k, count - 1);
    if (this.channel.connected()) this.channel.send({ holdfast: 'give', kind, key }, () => {});
  }

  private missed(reason: string) {
    if (this.unanswered) return;
    this.unanswered = true;
    this.log.warn(
      { reason },
      "machine-wide limits: the primary did not answer; counting this worker's connections only until it does",
    );
  }
}
