// What is derived from a message's content (headers for SEARCH, envelope and MIME tree for FETCH),
// kept in memory by content hash. Contents never change, so an entry never goes stale; the cache is
// bounded by a size its user measures, and the least recently used entries go first.
//
// A hit only stamps the entry with a counter: moving it to the end of the Map instead (the usual
// LRU) cost a Map deletion and insertion per message, and SEARCH touches every message of a folder
// (6 % of the server's time in bench/imap). Eviction, which is rare, sorts by the stamps.
import type { Kysely } from 'kysely';
import { batches } from '../store/batches.ts';
import type { BlobMetadataTable, Database } from '../store/schema.ts';

interface Entry<T> {
  value: T;
  size: number;
  used: number;
}

export class ContentCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private size = 0;
  private clock = 0;

  /** @param maxSize the bound, in the unit the caller measures entries in (about bytes). */
  constructor(readonly maxSize: number) {}

  /**
   * The values of these contents, in the order of `hashes`: cached ones at once, the others from `load`
   * (given each missing hash once) and kept; undefined for a content `load` does not return.
   */
  async getMany(
    hashes: string[],
    load: (missing: string[]) => Promise<Map<string, { value: T; size: number }>>,
  ): Promise<(T | undefined)[]> {
    const now = ++this.clock;
    const values: (T | undefined)[] = new Array(hashes.length);
    let missing: Set<string> | undefined;
    for (let i = 0; i < hashes.length; i++) {
      const entry = this.entries.get(hashes[i]!);
      if (entry) {
        entry.used = now;
        values[i] = entry.value;
      } else (missing ??= new Set()).add(hashes[i]!);
    }
    if (!missing) return values;
    const loaded = await load([...missing]);
    for (let i = 0; i < hashes.length; i++) {
      const found = values[i] === undefined ? loaded.get(hashes[i]!) : undefined;
      if (!found) continue;
      values[i] = found.value;
      // Kept under the caller's string: later lookups with the same string object compare keys by
      // identity instead of by their 64 characters.
      if (!this.entries.has(hashes[i]!)) this.add(hashes[i]!, { ...found, used: now });
    }
    return values;
  }

  /** Keeps a new entry (getMany adds only hashes not there yet). */
  private add(hash: string, entry: Entry<T>) {
    this.entries.set(hash, entry);
    this.size += entry.size;
    if (this.size > this.maxSize) this.evict();
  }

  /** Drops the least recently used entries until a tenth of the bound is free again. */
  private evict() {
    const oldestFirst = [...this.entries].sort((a, b) => a[1].used - b[1].used);
    for (const [hash, entry] of oldestFirst) {
      if (this.size <= this.maxSize * 0.9) break;
      this.entries.delete(hash);
      this.size -= entry.size;
    }
  }
}

/**
 * A cache loader over the stored metadata: reads these columns of the missing contents (in batches)
 * and makes each row a value and its size.
 */
export function fromMetadata<C extends keyof BlobMetadataTable, T>(
  db: Kysely<Database>,
  columns: C[],
  toEntry: (row: Pick<BlobMetadataTable, 'hash' | C>) => { value: T; size: number },
) {
  return async (missing: string[]) => {
    const loaded = new Map<string, { value: T; size: number }>();
    for (const batch of batches(missing)) {
      const rows = await db
        .selectFrom('blob_metadata')
        .select(['hash', ...columns])
        .where('hash', 'in', batch)
        .execute();
      // Kysely cannot narrow a selection of generic columns; the rows hold exactly `hash` and `columns`.
      for (const row of rows as unknown as Pick<BlobMetadataTable, 'hash' | C>[]) loaded.set(row.hash, toEntry(row));
    }
    return loaded;
  };
}
