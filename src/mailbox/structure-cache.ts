// The envelope and MIME tree of message contents, parsed, for FETCH (ENVELOPE, BODYSTRUCTURE and body
// sections need them): mail apps fetch the same messages' envelopes again and again as the user
// scrolls, and parsing the stored JSON costs more than the rest of such a FETCH.
import type { Kysely } from 'kysely';
import type { Envelope } from '../message/envelope.ts';
import type { MimePart } from '../message/mime-tree.ts';
import type { Database } from '../store/schema.ts';
import { ContentCache, fromMetadata } from './content-cache.ts';

export interface MessageStructure {
  tree: MimePart;
  envelope: Envelope;
}

export class StructureCache {
  private readonly cache: ContentCache<MessageStructure>;

  /** @param maxSize how much stored JSON to keep parsed (parsed objects take a few times as much memory). */
  constructor(maxSize = 8_000_000) {
    this.cache = new ContentCache(maxSize);
  }

  /** The structure of these contents, in their order (undefined for a content without metadata). */
  load(db: Kysely<Database>, hashes: string[]): Promise<(MessageStructure | undefined)[]> {
    return this.cache.getMany(
      hashes,
      fromMetadata(db, ['tree', 'envelope'], (row) => ({ value: { tree: JSON.parse(row.tree), envelope: JSON.parse(row.envelope) }, size: row.tree.length + row.envelope.length })),
    );
  }
}
