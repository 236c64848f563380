// The header fields SEARCH compares, per content hash, kept in memory: contents never change, so a
// folder searched again (mail apps search the same folder over and over) costs no store read.
//
// Each content's fields are kept as one string, in lower case (SEARCH compares without case), each
// field marked by its name: a criterion looks into the field it names only — not into every header of
// every message, which real mail has dozens of (Received, DKIM-Signature, ARC-*). One flat string per
// message rather than a map of fields: SEARCH visits every message of a folder once, and what it costs
// is mostly memory reads; objects to hop through cost more than characters to scan (bench/imap).
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { HeaderLine } from '../message/mime-tree.ts';
import { ContentCache, fromMetadata } from './content-cache.ts';
import { sentDay } from '../message/sent-day.ts';

export interface SearchHeaders {
  /** `\x01name\x02value` per field, lower case, ending in `\x01`. */
  text: string;
  sentAt: number | null;
  /**
   * The day of the Date: header in its own zone, as UTC midnight (SENTBEFORE/SENTON/SENTSINCE). A
   * missing or unreadable Date: counts as 1 Jan 1970 (0), as Dovecot takes it: RFC 3501 does not say,
   * and a message that tells no date is found by SENTBEFORE any day rather than by no date search.
   */
  sentDay: number;
}

const fieldMark = '\x01';
const valueMark = '\x02';

/** The form SEARCH compares: every field with its value, in lower case. */
export function toSearchHeaders(headers: HeaderLine[], sentAt: number | null): SearchHeaders {
  // The marks cannot occur in a value: header values are text, and control characters other than tab
  // are not text (RFC 5322); any that slipped in are dropped.
  const text =
    headers.map(([name, value]) => `${fieldMark}${name}${valueMark}${value.replace(/[\x01\x02]/g, '')}`).join('') +
    fieldMark;
  const date = headers.find(([name]) => name.toLowerCase() === 'date')?.[1];
  return { text: text.toLowerCase(), sentAt, sentDay: (date && sentDay(date)) || 0 };
}

/** A test of whether the field `field` has a value containing `needle` (both taken in lower case). */
export function fieldContains(field: string, needle: string): (headers: SearchHeaders | undefined) => boolean {
  const marker = `${fieldMark}${field.toLowerCase()}${valueMark}`;
  const lower = needle.toLowerCase();
  return (headers) => {
    if (!headers) return false;
    const { text } = headers;
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) {
      const start = at + marker.length;
      const found = text.indexOf(lower, start);
      if (found === -1) return false; // nor in any later value
      if (found + lower.length <= text.indexOf(fieldMark, start)) return true;
    }
    return false;
  };
}

/**
 * A test of whether any field's name or value contains `needle` (taken in lower case): TEXT's test of
 * the header, which holds both (RFC 3501 6.4.4; Dovecot matches names too). A needle holds no mark, so
 * wherever it is found it lies within one name or one value.
 */
export function anyFieldContains(needle: string): (headers: SearchHeaders | undefined) => boolean {
  const lower = needle.toLowerCase();
  if (/[\x01\x02]/.test(lower)) return () => false; // values hold no marks (toSearchHeaders)
  return (headers) => headers?.text.includes(lower) === true;
}

/** Memory an entry costs beyond its text (map entry, objects), in characters' worth. */
const perEntry = 100;

export class SearchHeaderCache {
  private readonly cache: ContentCache<SearchHeaders>;

  /** @param maxSize how much header text to keep (about one byte of memory per character, plus a little per entry). */
  constructor(maxSize = 32_000_000) {
    this.cache = new ContentCache(maxSize);
  }

  /** Whether this many contents fit; a larger folder is searched in the store instead. */
  fits(count: number): boolean {
    return count * 2000 <= this.cache.maxSize;
  }

  /** The headers of these contents, in their order (undefined for a content without metadata). */
  load(db: Kysely<Database>, hashes: string[]): Promise<(SearchHeaders | undefined)[]> {
    return this.cache.getMany(
      hashes,
      fromMetadata(db, ['headers', 'sent_at'], (row) => {
        const headers = toSearchHeaders(
          JSON.parse(row.headers) as HeaderLine[],
          row.sent_at === null ? null : Number(row.sent_at),
        );
        return { value: headers, size: headers.text.length + perEntry };
      }),
    );
  }
}
