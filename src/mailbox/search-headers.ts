// The header fields SEARCH compares, per content hash, kept in memory: contents never change, so a
// folder searched again (mail apps search the same folder over and over) costs no store read. Kept
// as the stored JSON in lower case — SEARCH compares without case — and parsed only for the messages
// that contain every required string (and the parsed form kept for the next search). Bounded by size;
// the least recently used go first.
import type { Kysely } from 'kysely';
import { batches } from '../store/batches.ts';
import type { Database } from '../store/schema.ts';
import type { HeaderLine } from '../message/mime-tree.ts';

export interface SearchHeaders {
  /** Field names and values, in lower case. */
  headers: HeaderLine[];
  sentAt: number | null;
}

interface Entry {
  lower: string;
  sentAt: number | null;
  /** `lower` parsed, once a search needed it (counted as much again in the size bound). */
  parsed?: HeaderLine[];
}

export class SearchHeaderCache {
  private readonly entries = new Map<string, Entry>();
  private chars = 0;

  /** @param maxChars how much header text to keep (about one byte of memory per character, plus a little). */
  constructor(private readonly maxChars = 32_000_000) {}

  /** Whether this many contents fit; a larger folder is searched in the store instead. */
  fits(count: number): boolean {
    return count * 2000 <= this.maxChars;
  }

  /** The headers of these contents that contain every string of `containing` (ignoring case). */
  async load(db: Kysely<Database>, hashes: string[], containing: string[]): Promise<Map<string, SearchHeaders>> {
    const unique = [...new Set(hashes)];
    const missing = unique.filter((h) => !this.entries.has(h));
    for (const batch of batches(missing)) {
      const rows = await db.selectFrom('blob_metadata').select(['hash', 'headers', 'sent_at']).where('hash', 'in', batch).execute();
      for (const row of rows) this.add(row.hash, { lower: row.headers.toLowerCase(), sentAt: row.sent_at === null ? null : Number(row.sent_at) });
    }
    // The JSON text holds a needle as is unless JSON escapes it; those are checked after parsing only.
    const needles = containing.map((n) => n.toLowerCase()).filter((n) => JSON.stringify(n) === `"${n}"`);
    const out = new Map<string, SearchHeaders>();
    for (const hash of unique) {
      const entry = this.entries.get(hash);
      if (!entry || !needles.every((n) => entry.lower.includes(n))) continue;
      this.entries.delete(hash);
      this.entries.set(hash, entry); // recently used
      if (!entry.parsed) {
        entry.parsed = JSON.parse(entry.lower) as HeaderLine[];
        this.chars += entry.lower.length;
      }
      out.set(hash, { headers: entry.parsed, sentAt: entry.sentAt });
    }
    return out;
  }

  private add(hash: string, entry: Entry) {
    this.entries.set(hash, entry);
    this.chars += entry.lower.length;
    for (const [oldest, old] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= old.lower.length * (old.parsed ? 2 : 1);
    }
  }
}
