// The fair queue of key-derivation work (scrypt): every password check and every new password hash of
// this process waits its turn here. scrypt runs on libuv's threadpool, which file reads and DNS
// lookups share; a storm of sign-ins handed straight to it fills every thread, so the sessions
// already signed in wait behind hashes for their file work, and each new hash waits behind all the
// others (a login at the back of a 300-deep storm sees them all finish first, on every retry). Here
// at most `concurrency` hashes run at once (one thread fewer than the pool, so other work still
// gets one), the others wait first come, first served, and past `maxWaiting` a sign-in is refused
// at once with a temporary failure (HoldfastError 'unavailable', code 'kdf-queue-full') that each
// protocol answers the way it answers other temporary failures, so the client retries later
// instead of waiting forever.
//
// One queue per process, not per Directory: the threadpool it protects is the process's.
import { availableParallelism } from 'node:os';
import { HoldfastError, unavailable } from '../errors.ts';

export interface KdfLimits {
  /** Hashes computed at once ([auth] kdf_concurrency). */
  concurrency: number;
  /** Sign-ins that may wait for their turn; one more is refused ([auth] kdf_queue). */
  maxWaiting: number;
}

/** libuv's threadpool: 4 threads unless UV_THREADPOOL_SIZE says otherwise (read once, at the pool's start). */
export function threadpoolSize(): number {
  const configured = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(configured) && configured > 0 ? configured : 4;
}

/**
 * One thread fewer than the pool (file and DNS work keep one), and no more than the machine's cores:
 * a hash is pure CPU, more at once than cores only makes each take longer and the event loop wait.
 */
export function defaultKdfConcurrency(): number {
  return Math.max(1, Math.min(threadpoolSize() - 1, availableParallelism()));
}

/** About ten seconds of waiting at 50 hashes a second: long enough for a storm, shorter than clients' timeouts. */
export const defaultKdfQueueLength = 500;

export interface KdfStats {
  running: number;
  waiting: number;
  /** Hashes computed since the start. */
  completed: number;
  /** Sign-ins refused because the queue was full. */
  rejected: number;
  /** Time spent waiting for a turn, added up over every computed hash, in ms. */
  waitMsTotal: number;
}

export class KdfQueue {
  private limits: KdfLimits;
  private running = 0;
  /** Waiting turns, oldest first; `head` is the next to start (an array that is shifted only when half is used). */
  private waiting: (() => void)[] = [];
  private head = 0;
  private readonly counts = { completed: 0, rejected: 0, waitMsTotal: 0 };

  constructor(
    limits: KdfLimits = { concurrency: defaultKdfConcurrency(), maxWaiting: defaultKdfQueueLength },
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.limits = { ...limits };
  }

  /** New limits ([auth] of the configuration; undefined keeps a limit); work running or waiting keeps its place. */
  configure(limits: Partial<KdfLimits>) {
    this.limits = {
      concurrency: limits.concurrency ?? this.limits.concurrency,
      maxWaiting: limits.maxWaiting ?? this.limits.maxWaiting,
    };
    this.startWaiting();
  }

  get settings(): Readonly<KdfLimits> {
    return this.limits;
  }

  /** Runs `work` (one hash) in its turn; throws 'kdf-queue-full' at once when too many wait already. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.concurrency && this.queued() === 0) this.running++;
    else {
      if (this.queued() >= this.limits.maxWaiting) {
        this.counts.rejected++;
        throw unavailable(
          'kdf-queue-full',
          `Too many sign-ins are waiting for a password check (limit [auth] kdf_queue = ${this.limits.maxWaiting}); try again in a few seconds`,
        );
      }
      const queuedAt = this.clock();
      // Resolved by startWaiting, which has counted this turn as running already.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      this.counts.waitMsTotal += this.clock() - queuedAt;
    }
    try {
      return await work();
    } finally {
      this.running--;
      this.counts.completed++;
      this.startWaiting();
    }
  }

  stats(): KdfStats {
    return { running: this.running, waiting: this.queued(), ...this.counts };
  }

  private queued(): number {
    return this.waiting.length - this.head;
  }

  /** Hands free slots to the oldest waiting turns, counting each as running from now. */
  private startWaiting() {
    let free = this.limits.concurrency - this.running;
    while (free > 0 && this.queued() > 0) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = noop;
      // The turn's continuation runs later (a microtask): count it now so no other caller takes its slot.
      this.running++;
      free--;
      next();
    }
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}

const noop = () => {};

/** The process's queue: every scrypt of passwords.ts goes through it. */
export const kdfQueue = new KdfQueue();

/**
 * The error when a sign-in failed for now, not for its credentials (the KDF queue was full; any
 * 'unavailable' domain error the check threw): each protocol answers it with its temporary failure.
 */
export function temporarySignInFailure(error: unknown): HoldfastError | undefined {
  return error instanceof HoldfastError && error.kind === 'unavailable' ? error : undefined;
}

/** What HTTP's Retry-After says after a full queue: a few seconds drain hundreds of waiting checks. */
export const kdfRetryAfterSeconds = 5;
