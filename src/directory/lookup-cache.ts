// The directory lookups of mail routing — a recipient's domain and address, a sender's domain, a
// tenant's forest — answered from a short cache. Every SMTP transaction makes four or five of them,
// mostly for the same few names; on PostgreSQL each is a round trip (bench/statements.ts).
//
// How stale an answer may be: a change made through the same Directory (the admin API, anything in
// this process) clears the cache at once; a change made elsewhere (the `holdfast` CLI, another node)
// is seen within `lookupCacheMs`. So an alias or account removed by the CLI may still be accepted at
// RCPT for up to a second; delivery resolves the address again without the cache. Only routing
// reads through here: signing in, send-as rights and disabled accounts are always read fresh.
// An address that does not exist is never kept (a new mailbox takes mail at once, never a 550);
// a domain that is not ours is (every message from outside asks about its sender's domain).
import type { Directory, ResolvedAddress } from './directory.ts';

export const lookupCacheMs = 1000;
/** A bound on memory, far above the names one second of mail asks about. */
const maxEntries = 10_000;

/** Cached answers, each for `lookupCacheMs`; one per Directory, which clears it after each change it makes. */
export class LookupCache {
  private readonly entries = new Map<string, { value: unknown; expires: number }>();
  /** Raised by clear(): a lookup that started before a change does not store its answer. */
  private generation = 0;

  constructor(private readonly now: () => number) {}

  async get<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && entry.expires > this.now()) return entry.value as T;
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation && keep(value)) {
      this.entries.delete(key);
      if (this.entries.size >= maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, expires: this.now() + lookupCacheMs });
    }
    return value;
  }

  clear() {
    this.generation++;
    this.entries.clear();
  }
}

/**
 * `directory` with findDomain, resolveAddress and forestOfTenant answered from `cache`; everything
 * else is the directory's own. Made by the Directory (its `routing`).
 */
export function cachedRouting(directory: Directory, cache: LookupCache): Directory {
  const view: Directory = Object.create(directory);
  view.findDomain = (name) =>
    cache.get(
      `domain:${name.trim().toLowerCase()}`,
      () => directory.findDomain(name),
      () => true,
    );
  view.resolveAddress = (address) =>
    cache.get(
      `address:${address.trim().toLowerCase()}`,
      () => directory.resolveAddress(address),
      (found: ResolvedAddress | undefined) => found !== undefined,
    );
  view.forestOfTenant = (tenantId) =>
    cache.get(
      `forest:${tenantId}`,
      () => directory.forestOfTenant(tenantId),
      () => true,
    );
  return view;
}
