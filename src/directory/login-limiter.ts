// The login limiter: who may try a password now. Failed sign-ins are throttled per source address
// and per (source, account), never for an account as a whole: a stranger's wrong guesses must not
// lock its owner out (the denial of service a per-account lockout hands to anyone who knows an
// address). Past a threshold each further failure doubles the wait, from `firstDelayMs` up to
// `maxDelayMs`. An account under attack from many sources (`perSourceFailures` failures in all) is
// also closed to every source that has failed lately — but a source with no failures still signs
// in with the right password: the "familiar location" idea of Microsoft's smart lockout.
// One limiter serves every protocol and every node (the counters live in the store), so guessing
// over IMAP, SMTP, POP3 and HTTP counts together.
import { LoginFailures, type FailureCount, type FailuresSeen } from './login-failures.ts';

export interface LoginLimits {
  /** Failures of one source for one account before it waits ([limits] auth_failures). */
  perAccountFailures: number;
  /** Failures of one source, whatever accounts it names, before it waits (many users may share an address behind NAT). */
  perSourceFailures: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** A counter starts again this long after its last failure. */
  forgetAfterMs: number;
}

/** The limits for [limits] auth_failures: a source may fail four times as often as a (source, account) pair. */
export function loginLimits(authFailures: number): LoginLimits {
  return {
    perAccountFailures: authFailures,
    perSourceFailures: 4 * authFailures,
    firstDelayMs: 60_000,
    maxDelayMs: 15 * 60_000,
    forgetAfterMs: 60 * 60_000,
  };
}

export type ThrottledOutcome = { ok: false; throttled: true; message: string; retryAfterSeconds: number };
export type LoginOutcome<T> = { ok: true; principal: T } | { ok: false; throttled: false } | ThrottledOutcome;

const pruneEveryMs = 60_000;

/** The account key of a sign-in name, as the directory reads it: surrounding space and case do not make another account. */
export function loginAccount(name: string): string {
  return name.trim().toLowerCase() || '(empty name)';
}

export class LoginLimiter {
  private readonly failures: LoginFailures;
  private lastPrune = 0;

  constructor(
    db: ConstructorParameters<typeof LoginFailures>[0],
    private readonly settings: LoginLimits,
    private readonly now: () => number,
    /** Accounts never throttled (the probe account: its password is random and new at every start). */
    private readonly unthrottled: (account: string) => boolean = () => false,
  ) {
    this.failures = new LoginFailures(db, settings.forgetAfterMs);
  }

  /**
   * Runs `check` (a password or token check) unless `source` must wait for `name`; counts a failure
   * and clears the pair's failures on success.
   */
  async attempt<T>(source: string, name: string, check: () => Promise<T | undefined>): Promise<LoginOutcome<T>> {
    const account = loginAccount(name);
    const seen = await this.seen(source, account);
    const throttled = this.refusal(seen);
    if (throttled) return throttled;
    const principal = await check();
    const now = this.now();
    if (principal === undefined) {
      await this.failures.record(source, account, now);
      if (now - this.lastPrune >= pruneEveryMs) {
        this.lastPrune = now;
        await this.failures.prune(now);
      }
      return { ok: false, throttled: false };
    }
    // Only a pair that failed lately has a row to forget: a write on every sign-in would make each
    // one wait for the store's write lock (SQLite: one writer at a time across all workers).
    if (seen.forPair) await this.failures.forgetPair(source, account);
    return { ok: true, principal };
  }

  /**
   * The refusal `source` gets for `name` now, if it must wait; reads only. A sign-in that needs no
   * password check (one the credential cache remembers) must still ask: otherwise a throttled guesser
   * would learn from a success that its guess was right.
   */
  async throttled(source: string, name: string): Promise<ThrottledOutcome | undefined> {
    return this.refusal(await this.seen(source, loginAccount(name)));
  }

  /** Clears every source's failures for an account (`holdfast user unlock`, a new password); how many sources had some. */
  unlock(name: string): Promise<number> {
    return this.failures.forgetAccount(loginAccount(name));
  }

  /** The recent failures that judge a sign-in of `account` from `source`; none for an unthrottled account. */
  private async seen(source: string, account: string): Promise<FailuresSeen> {
    if (this.unthrottled(account)) return {};
    return this.failures.seen(source, account, this.now());
  }

  private refusal(seen: FailuresSeen): ThrottledOutcome | undefined {
    const waitMs = this.waitMs(seen);
    if (waitMs <= 0) return undefined;
    const retryAfterSeconds = Math.ceil(waitMs / 1000);
    return {
      ok: false,
      throttled: true,
      retryAfterSeconds,
      message: `Too many failed sign-ins; try again in ${waitText(retryAfterSeconds)}`,
    };
  }

  private waitMs(seen: FailuresSeen): number {
    const now = this.now();
    const { perAccountFailures, perSourceFailures } = this.settings;
    const waits = [
      this.remaining(seen.forPair, perAccountFailures, now),
      this.remaining(seen.fromSource, perSourceFailures, now),
    ];
    // A source that has not failed lately is "familiar": the attack on its account does not close it.
    if (seen.fromSource) waits.push(this.remaining(seen.forAccount, perSourceFailures, now));
    return Math.max(...waits);
  }

  private remaining(count: FailureCount | undefined, threshold: number, now: number): number {
    if (!count || count.failures < threshold) return 0;
    const { firstDelayMs, maxDelayMs } = this.settings;
    const delay = Math.min(firstDelayMs * 2 ** (count.failures - threshold), maxDelayMs);
    return Math.max(0, count.lastFailureAt + delay - now);
  }
}

function waitText(seconds: number): string {
  return seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
}
