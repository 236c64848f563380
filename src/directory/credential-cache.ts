// The cache of verified credentials (Dovecot calls it the auth cache): a sign-in whose password was
// checked with the memory-hard KDF (about 60 ms of CPU) is remembered, so the same user with the
// same password signs in again for the price of a keyed hash. IMAP, POP3 and SMTP clients sign in
// per connection (and many reconnect together when an outage ends); CalDAV clients send the
// password with every request.
//
// What is kept, and why it is safe:
// - The key is HMAC-SHA256 under a random secret of this process over (address NUL password): the
//   password is never stored, and the keys are worthless outside this process's memory.
// - An entry holds the principal's id, the stored password hash and session generation seen when
//   the password was checked. Every sign-in reads the principal's row anyway; an entry whose row
//   has another hash (a new password) or generation (`holdfast user kick`) is dropped, and a
//   disabled account never signs in from the cache. The row is the truth, so a change made by the
//   CLI or on another node needs no message to reach this cache.
// - Only successes are kept. A wrong password always costs a KDF and counts in the login limiter.
// - Bounded: at most `maxEntries` (least recently used leave first), each for `ttlMs`.
import { createHmac, randomBytes } from 'node:crypto';

export interface CredentialCacheSettings {
  /** Verified sign-ins kept; 0 turns the cache off ([auth] cache_size). */
  maxEntries: number;
  /** How long one is kept after its check ([auth] cache_ttl). */
  ttlMs: number;
}

export const defaultCredentialCacheSettings: CredentialCacheSettings = { maxEntries: 10_000, ttlMs: 60 * 60_000 };

/** What the directory's row says now: the entry must have seen the same. */
export interface StoredCredential {
  principalId: number;
  passwordHash: string;
  sessionGeneration: number;
  /** A disabled account signs in from nowhere, the cache included. */
  disabled: boolean;
}

interface Entry {
  principalId: number;
  passwordHash: string;
  sessionGeneration: number;
  expires: number;
}

export interface CredentialCacheStats {
  hits: number;
  misses: number;
  entries: number;
}

export class CredentialCache {
  private readonly secret = randomBytes(32);
  /** In use order, least recent first (a Map keeps insertion order; a hit moves its entry to the end). */
  private readonly entries = new Map<string, Entry>();
  /**
   * KDF checks in progress, by key and stored hash: the same credentials arriving together (one
   * account's devices after an outage) share one check instead of queueing one each.
   */
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly counts = { hits: 0, misses: 0 };

  constructor(
    private readonly settings: CredentialCacheSettings,
    private readonly now: () => number,
  ) {}

  /**
   * Whether `password` is the password of `stored`: from the cache when a check of the same
   * credentials against the same row is remembered, otherwise by `check` (the KDF), whose success
   * is remembered. A disabled account is always checked and refused (in a wrong password's time).
   */
  async verify(address: string, password: string, stored: StoredCredential, check: () => Promise<boolean>) {
    const key = this.keyOf(address, password);
    if (this.hit(key, stored)) {
      this.counts.hits++;
      return true;
    }
    this.counts.misses++;
    const flight = `${key}\0${stored.passwordHash}`;
    let checked = this.checking.get(flight);
    if (!checked) {
      checked = check().finally(() => this.checking.delete(flight));
      this.checking.set(flight, checked);
    }
    const ok = await checked;
    if (ok && !stored.disabled) this.remember(key, stored);
    return ok && !stored.disabled;
  }

  /**
   * Whether the credentials verified lately against this very row (no KDF); a stale entry is dropped.
   * Only a hit is counted: on a miss the caller goes on to `verify`, which counts it.
   */
  has(address: string, password: string, stored: StoredCredential): boolean {
    const hit = this.hit(this.keyOf(address, password), stored);
    if (hit) this.counts.hits++;
    return hit;
  }

  stats(): CredentialCacheStats {
    return { ...this.counts, entries: this.entries.size };
  }

  private keyOf(address: string, password: string): string {
    return createHmac('sha256', this.secret).update(address).update('\0').update(password).digest('base64');
  }

  private hit(key: string, stored: StoredCredential): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    const holds =
      !stored.disabled &&
      entry.expires > this.now() &&
      entry.principalId === stored.principalId &&
      entry.passwordHash === stored.passwordHash &&
      entry.sessionGeneration === stored.sessionGeneration;
    if (holds) this.entries.set(key, entry); // the most recently used now
    return holds;
  }

  private remember(key: string, stored: StoredCredential) {
    if (this.settings.maxEntries <= 0 || this.settings.ttlMs <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.settings.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, {
      principalId: stored.principalId,
      passwordHash: stored.passwordHash,
      sessionGeneration: stored.sessionGeneration,
      expires: this.now() + this.settings.ttlMs,
    });
  }
}
