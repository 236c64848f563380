// The decoded text of message bodies, for IMAP's BODY and TEXT search keys (RFC 3501 §6.4.4): a
// message matches when the string occurs in it, case-insensitively, after transfer and charset
// decoding — inside a word too. The full-text index matches words and word prefixes, so it cannot
// decide that ("wert" is in "qwertyuiop"); the text itself does, read from the stored content and
// kept by content hash (contents never change) so a folder searched again costs no reading.
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { readBlob } from '../store/blobs/blob-store.ts';
import { searchableText } from '../message/part-content.ts';
import { ContentCache } from './content-cache.ts';
import type { StructureCache } from './structure-cache.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** Contents read at once while searching: bounds the memory a search of a large folder takes. */
const readBatch = 50;

export class BodyTextCache {
  private readonly cache: ContentCache<string>;

  /** @param maxSize characters of decoded body text to keep. */
  constructor(maxSize = 32_000_000) {
    this.cache = new ContentCache(maxSize);
  }

  /** The hashes (of `hashes`) whose decoded body text contains `needle`, compared in lower case. */
  async containing(source: { db: Kysely<Database>; blobs: BlobStore; structures: StructureCache }, needle: string, hashes: string[]): Promise<Set<string>> {
    const lower = needle.toLowerCase();
    const found = new Set<string>();
    const unique = [...new Set(hashes)];
    for (let at = 0; at < unique.length; at += readBatch) {
      const batch = unique.slice(at, at + readBatch);
      const texts = await this.cache.getMany(batch, async (missing) => {
        const structures = await source.structures.load(source.db, missing);
        const loaded = new Map<string, { value: string; size: number }>();
        for (const [i, hash] of missing.entries()) {
          const tree = structures[i]?.tree;
          if (!tree) continue;
          const text = searchableText(await readBlob(source.blobs, hash), tree).toLowerCase();
          loaded.set(hash, { value: text, size: text.length });
        }
        return loaded;
      });
      for (const [i, text] of texts.entries()) if (text?.includes(lower)) found.add(batch[i]!);
    }
    return found;
  }
}
