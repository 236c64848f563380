// The envelope and MIME tree of message contents, parsed, for FETCH (ENVELOPE, BODYSTRUCTURE and body
// sections need them): mail apps fetch the same messages' envelopes again and again as the user
// scrolls, and parsing the stored JSON costs more than the rest of such a FETCH.
//
// A structure stored by an older version of the parsers (other line counts, parameters or addresses:
// see treeFormat) is left out, as if there were none, so that the caller has it computed again
// (ensureMetadata) rather than answer an old message otherwise than a new one.
import type { Kysely } from 'kysely';
import type { Envelope } from '../message/envelope.ts';
import { treeFormat, type MimePart } from '../message/mime-tree.ts';
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

  /** The structure of these contents, in their order (undefined for a content without metadata, or with old metadata). */
  load(db: Kysely<Database>, hashes: string[]): Promise<(MessageStructure | undefined)[]> {
    const read = fromMetadata(db, ['tree', 'envelope'], (row) => ({
      value: { tree: JSON.parse(row.tree) as MimePart, envelope: JSON.parse(row.envelope) as Envelope },
      size: row.tree.length + row.envelope.length,
    }));
    return this.cache.getMany(hashes, async (missing) => {
      const loaded = await read(missing);
      for (const [hash, { value }] of loaded) if (value.tree.format !== treeFormat) loaded.delete(hash);
      return loaded;
    });
  }
}
