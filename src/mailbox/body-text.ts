// The decoded text of message bodies, for IMAP's BODY and TEXT search keys (RFC 3501 §6.4.4): a
// message matches when the string occurs in it, case-insensitively, after transfer and charset
// decoding — inside a word too. A word index matches words and word prefixes, so it cannot decide
// that ("wert" is in "qwertyuiop"); the text itself does, read from the stored content and
// kept by content hash (contents never change) so a folder searched again costs no reading.
//
// TEXT also looks into the header fields inside the body: each MIME part's header and the header of
// each encapsulated message (message/rfc822), decoded, as Dovecot does. BODY does not, and neither
// looks at the top-level header, which SEARCH keeps apart (search-headers.ts).
import { decodeEncodedWords } from '../message/encoded-words.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { readBlob } from '../store/blobs/blob-store.ts';
import { parseHeaderLines, type MimePart } from '../message/mime-tree.ts';
import { searchableText } from '../message/part-content.ts';
import { ContentCache } from './content-cache.ts';
import type { MessageStructure } from './structure-cache.ts';

/** Contents read at once while searching: bounds the memory a search of a large folder takes. */
const readBatch = 50;

/** At most this much of the inner headers is kept per content (the body text has its own bound). */
const innerHeadersLimit = 64 * 1024;

/** A content's searchable text, in lower case. */
interface ContentText {
  body: string;
  /** "name: value" lines of the headers inside the body. */
  innerHeaders: string;
}

export interface BodyTextSource {
  blobs: BlobStore;
  /** The MIME trees of these contents, in their order. */
  structures(hashes: string[]): Promise<(MessageStructure | undefined)[]>;
}

export class BodyTextCache {
  private readonly cache: ContentCache<ContentText>;

  /** @param maxSize characters of decoded text to keep. */
  constructor(maxSize = 32_000_000) {
    this.cache = new ContentCache(maxSize);
  }

  /**
   * The hashes (of `hashes`) whose decoded body text — for TEXT, or the headers inside the body —
   * contains `needle`, compared in lower case.
   */
  async containing(
    source: BodyTextSource,
    needle: string,
    hashes: string[],
    where: 'body' | 'text',
  ): Promise<Set<string>> {
    const lower = needle.toLowerCase();
    const found = new Set<string>();
    const unique = [...new Set(hashes)];
    for (let at = 0; at < unique.length; at += readBatch) {
      const batch = unique.slice(at, at + readBatch);
      const texts = await this.cache.getMany(batch, async (missing) => {
        const structures = await source.structures(missing);
        const loaded = new Map<string, { value: ContentText; size: number }>();
        for (const [i, hash] of missing.entries()) {
          const tree = structures[i]?.tree;
          if (!tree) continue;
          const blob = await readBlob(source.blobs, hash);
          const value = {
            body: searchableText(blob, tree).toLowerCase(),
            innerHeaders: innerHeaders(blob, tree).toLowerCase(),
          };
          loaded.set(hash, { value, size: value.body.length + value.innerHeaders.length });
        }
        return loaded;
      });
      for (const [i, text] of texts.entries()) {
        if (text && (text.body.includes(lower) || (where === 'text' && text.innerHeaders.includes(lower))))
          found.add(batch[i]!);
      }
    }
    return found;
  }
}

/** The header fields of every part below the top (MIME part headers, encapsulated messages' headers), decoded. */
function innerHeaders(source: Buffer, root: MimePart): string {
  const lines: string[] = [];
  let length = 0;
  const visit = (part: MimePart, top: boolean) => {
    if (length >= innerHeadersLimit) return;
    if (!top) {
      for (const [name, value] of parseHeaderLines(source.toString('latin1', part.headerStart, part.bodyStart))) {
        const line = `${name}: ${decodeEncodedWords(value)}`;
        lines.push(line);
        length += line.length;
      }
    }
    part.children?.forEach((child) => visit(child, false));
    if (part.message) visit(part.message.root, false);
  };
  visit(root, true);
  return lines.join('\n').slice(0, innerHeadersLimit);
}
