// The queue runner of one node: a bounded active set of claimed recipients, local deliveries run at
// once, remote ones grouped by message and domain and gated by each destination's concurrency.
// Leases of work in progress are renewed; a lease left by a dead process expires and is claimed again.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { deliverLocally, type LocalDeliveryDeps } from '../delivery/local-delivery.ts';
import type { DeliverySignal, DestinationControl } from '../delivery/destination-control.ts';
import {
  deliverRemotely,
  destinationOf,
  mailOfDestination,
  type RemoteDeliveryDeps,
} from '../delivery/remote-delivery.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import type { NewMailSignal } from './new-mail-signal.ts';
import type { ClaimedRecipient, Queue } from './queue.ts';

export interface QueueRunnerDeps {
  queue: Queue;
  /** Raised when new mail is committed: claimed at once instead of at the next poll. */
  newMail: NewMailSignal;
  /** Each remote destination's concurrency and health, also read by the admin API's queue insight. */
  destinations: DestinationControl;
  local: LocalDeliveryDeps;
  remote: RemoteDeliveryDeps;
  logger: Logger;
  maxActive: number;
  pollIntervalMs: number;
  leaseMs: number;
  /** True when this node is the only one (SQLite): leases left at start are stale at once. */
  singleNode: boolean;
  /** This host's name, in lease owners, so a restart recognises its own dead processes' leases. */
  host: string;
  now(): number;
}

/** How long new mail waits so that a burst is claimed together (see nudge()). */
const nudgeDelayMs = 5;
/**
 * How many times a job whose connection was refused while others to the destination were open is
 * kept and tried again soon (after the destination's hold) before it is deferred on the schedule.
 */
const refusedRetries = 3;

interface RemoteJob {
  destination: string;
  recipients: ClaimedRecipient[];
  /** Connections refused for it so far (throttling, see refusedRetries). */
  refused?: number;
}

export class QueueRunner {
  readonly owner: string;
  readonly destinations: DestinationControl;
  private readonly active = new Map<number, ClaimedRecipient>();
  private readonly waiting = new Map<string, RemoteJob[]>();
  private readonly running = new Set<Promise<void>>();
  /** Per destination: when its waiting mail is looked at again after a refusal's hold. */
  private readonly wakeTimers = new Map<string, NodeJS.Timeout>();
  private timer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private nudgeTimer?: NodeJS.Timeout;
  private stopListening?: () => void;
  private ticking = false;
  private again = false;
  private stopped = false;
  /** When claims began to fail (the store unreachable), while they do. */
  private claimsFailingSince: number | undefined;

  constructor(private readonly deps: QueueRunnerDeps) {
    this.destinations = deps.destinations;
    this.owner = `${deps.host}/${process.pid}/${randomUUID().slice(0, 8)}`;
  }

  async start() {
    const released = await this.deps.queue.releaseStaleLeases({
      allOwners: this.deps.singleNode,
      host: this.deps.host,
    });
    if (released)
      this.deps.logger.info({ released }, 'queue: took over deliveries left in flight by a process that stopped');
    this.timer = setInterval(() => this.wake(), this.deps.pollIntervalMs);
    this.renewTimer = setInterval(() => void this.renew(), Math.max(1000, Math.floor(this.deps.leaseMs / 3)));
    this.stopListening = this.deps.newMail.listen(() => this.nudge());
    this.wake();
  }

  /**
   * Look for due work soon: new mail arriving in a burst is claimed in one go a few milliseconds
   * later, rather than one claim (and one transaction) per message.
   */
  nudge() {
    if (this.nudgeTimer || this.stopped) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.wake();
    }, nudgeDelayMs);
  }

  /** Look for due work now. */
  wake() {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async tick() {
    try {
      const room = this.deps.maxActive - this.active.size;
      if (room <= 0) return;
      const claimed = await this.deps.queue.claim(this.owner, room);
      if (this.claimsFailingSince !== undefined) {
        this.deps.logger.info(
          { outageMs: this.deps.now() - this.claimsFailingSince },
          'queue: claiming works again; deliveries resume',
        );
        this.claimsFailingSince = undefined;
      }
      if (claimed.length === 0) return;
      for (const r of claimed) this.active.set(r.id, r);
      const local = claimed.filter((r) => r.route === 'local');
      if (local.length) this.track(this.runLocal(local));
      const remoteGroups = new Map<string, ClaimedRecipient[]>();
      for (const r of claimed.filter((r) => r.route === 'remote')) {
        const key = `${r.messageId}|${r.domain}`;
        remoteGroups.set(key, [...(remoteGroups.get(key) ?? []), r]);
      }
      for (const recipients of remoteGroups.values())
        this.schedule({ destination: destinationOf(this.deps.remote.relays, recipients[0]!.domain), recipients });
      if (claimed.length === room) this.again = true;
    } catch (error) {
      // The next poll tries again (a database failover is over in seconds); said once, not at every poll.
      if (this.claimsFailingSince === undefined) {
        this.claimsFailingSince = this.deps.now();
        this.deps.logger.error({ err: error }, 'queue: claiming work failed; retrying at every poll');
      } else this.deps.logger.debug({ err: error }, 'queue: claiming work still fails');
    }
  }

  /** A deferral the store would not take (a full disk, a lost database): the lease is what brings the work back. */
  private unrecorded(failure: unknown) {
    this.deps.logger.error(
      { err: failure, retryInMs: this.deps.leaseMs },
      'queue: could not record a deferral; the delivery is tried again when its lease expires',
    );
  }

  private track(work: Promise<void>) {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  private async runLocal(recipients: ClaimedRecipient[]) {
    try {
      // A store that cannot be reached (a failover) is not the recipients' fault: tried again while
      // the lease lasts (the delivery is one transaction), not deferred by the retry schedule.
      await this.whileLeased(() => deliverLocally(this.deps.local, recipients));
    } catch (error) {
      this.deps.logger.error({ err: error }, 'queue: local delivery failed; will retry');
      await this.deps.queue
        .recordDeferred(
          recipients.map((recipient) => ({ recipient, reply: '451 4.3.0 local delivery failed temporarily' })),
        )
        .catch((failure) => this.unrecorded(failure));
    } finally {
      this.finish(recipients);
    }
  }

  private schedule(job: RemoteJob) {
    const { destinations } = this;
    if (destinations.isDead(job.destination)) {
      const state = destinations.state(job.destination);
      // A probe is finding out whether the destination is back: wait for its answer.
      if (state.active > 0)
        return void this.waiting.set(job.destination, [...(this.waiting.get(job.destination) ?? []), job]);
      if (destinations.tryProbe(job.destination)) return this.track(this.runRemote(job));
      // Not tried: it waits on the schedule, and is released as soon as a probe finds the destination back.
      const reply = `451 4.4.1 ${job.destination} is not reachable at the moment (last reply: ${state.lastReply ?? 'none'}); retry scheduled`;
      this.track(
        this.deps.queue
          .recordDeferred(
            job.recipients.map((recipient) => ({ recipient, reply })),
            true,
          )
          .finally(() => this.finish(job.recipients)),
      );
      return;
    }
    if (!destinations.tryAcquire(job.destination)) {
      this.waiting.set(job.destination, [...(this.waiting.get(job.destination) ?? []), job]);
      this.wakeAfterHold(job.destination);
      return;
    }
    this.track(this.runRemote(job));
  }

  /** A destination that refused a connection with nothing else in flight: its waiting mail goes on after the hold. */
  private wakeAfterHold(destination: string, at = this.destinations.heldUntil(destination)) {
    if (!at || this.wakeTimers.has(destination) || this.stopped) return;
    const timer = setTimeout(
      () => {
        this.wakeTimers.delete(destination);
        this.startWaiting(destination);
      },
      Math.max(0, at - this.deps.now()) + 5,
    );
    timer.unref();
    this.wakeTimers.set(destination, timer);
  }

  /**
   * Throttling (a connection refused while others to the destination are open) is not the mail's
   * fault: it is kept, still leased, and goes first once the refusal's hold is over, without an
   * attempt counted or a deferral written, a few times before it is deferred on the schedule.
   */
  private retrySoon(job: RemoteJob, at: number) {
    const timer = setTimeout(
      () => {
        if (this.stopped) return;
        this.waiting.set(job.destination, [job, ...(this.waiting.get(job.destination) ?? [])]);
        this.startWaiting(job.destination);
      },
      Math.max(0, at - this.deps.now()),
    );
    timer.unref();
  }

  private async runRemote(job: RemoteJob) {
    let signal: DeliverySignal = 'neutral';
    let lastReply: string | null = null;
    let outcome: Awaited<ReturnType<typeof deliverRemotely>> | undefined;
    let released = false;
    try {
      // A store error comes before the message's end of data reached the destination (its content is
      // read as it is sent): nothing was delivered, and it is tried again as local delivery is.
      outcome = await this.whileLeased(() => deliverRemotely(this.deps.remote, job.recipients));
      signal = outcome.signal;
      lastReply = (outcome.deferred[0] ?? outcome.failed[0] ?? outcome.delivered[0])?.reply ?? null;
      if (signal === 'refused') {
        released = true;
        const { retrySoon, holdUntil } = this.destinations.release(job.destination, signal, lastReply);
        if (retrySoon && (job.refused ?? 0) < refusedRetries && !this.stopped) {
          this.retrySoon({ ...job, refused: (job.refused ?? 0) + 1 }, holdUntil);
          this.startWaiting(job.destination);
          return;
        }
      }
    } catch (error) {
      this.deps.logger.error({ err: error, destination: job.destination }, 'queue: remote delivery failed; will retry');
      await this.deps.queue
        .recordDeferred(
          job.recipients.map((recipient) => ({ recipient, reply: '451 4.3.0 delivery failed temporarily' })),
        )
        .catch((failure) => this.unrecorded(failure));
    }
    try {
      // The destination has taken what it answered 2xx for. Until that is recorded, a crash (or a
      // lease running out) sends it a second time: the record comes first, at once (no QUIT awaited,
      // the connection is reset for reuse in the background), and a store that cannot be reached is
      // retried while the lease lasts rather than answered by a deferral that would resend it.
      if (outcome?.delivered.length) await this.whileLeased(() => this.deps.queue.recordDelivered(outcome.delivered));
      if (outcome?.deferred.length) await this.whileLeased(() => this.deps.queue.recordDeferred(outcome.deferred));
      if (outcome?.failed.length) await this.whileLeased(() => this.deps.queue.recordFailed(outcome.failed));
    } catch (failure) {
      // The lease brings the recipients back; those the destination accepted get a second transaction.
      this.unrecorded(failure);
    } finally {
      if (!released && this.destinations.release(job.destination, signal, lastReply).back) {
        const due = await this.deps.queue
          .retryDestination(mailOfDestination(this.deps.remote.relays, job.destination))
          .catch(() => 0);
        this.deps.logger.info(
          { destination: job.destination, released: due },
          'queue: destination is reachable again; its deferred mail is retried now',
        );
      }
      this.finish(job.recipients);
      this.startWaiting(job.destination);
    }
  }

  /**
   * Runs `work` again while the store is unreachable (a database failover) and the lease on the
   * work, renewed meanwhile, can still be ours; any other failure is thrown at once.
   */
  private async whileLeased<T>(work: () => Promise<T>): Promise<T> {
    const until = this.deps.now() + this.deps.leaseMs;
    for (let wait = 200; ; wait = Math.min(wait * 2, 2000)) {
      try {
        return await work();
      } catch (error) {
        if (!isStoreUnavailable(error) || this.deps.now() + wait >= until) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Looks at a destination's waiting mail again (a control whose slots come from elsewhere has one for it). */
  lookAgain(destination: string) {
    this.startWaiting(destination);
  }

  private startWaiting(destination: string) {
    const queue = this.waiting.get(destination);
    while (queue?.length && !this.stopped) {
      if (this.destinations.isDead(destination)) {
        if (this.destinations.state(destination).active > 0) break; // a delivery in flight will decide
        this.schedule(queue.shift()!);
      } else if (this.destinations.tryAcquire(destination)) this.track(this.runRemote(queue.shift()!));
      else {
        this.wakeAfterHold(destination);
        break;
      }
    }
    if (queue && queue.length === 0) this.waiting.delete(destination);
  }

  private finish(recipients: ClaimedRecipient[]) {
    for (const r of recipients) this.active.delete(r.id);
    this.nudge();
  }

  private async renew() {
    try {
      await this.deps.queue.renewLeases(this.owner, [...this.active.keys()]);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'queue: renewing leases failed');
    }
  }

  /** Stops claiming; in-flight deliveries finish (the caller bounds the wait). Waiting jobs keep their leases until they expire. */
  async stop() {
    this.stopped = true;
    this.stopListening?.();
    clearInterval(this.timer);
    clearInterval(this.renewTimer);
    clearTimeout(this.nudgeTimer);
    for (const timer of this.wakeTimers.values()) clearTimeout(timer);
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
