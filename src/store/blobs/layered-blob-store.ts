// The embedded deployment's blob store: small content inline in the SQLite database (written with
// the rows that use it), larger content as files. Reads look in the database first.
import { Readable } from 'node:stream';
import type { BlobSource, BlobStore, BlobRef, ByteRange } from './blob-store.ts';
import type { DatabaseBlobStore } from './database-blob-store.ts';
import type { FileBlobStore } from './file-blob-store.ts';

export class LayeredBlobStore implements BlobStore {
  constructor(
    private readonly inline: DatabaseBlobStore,
    private readonly files: FileBlobStore,
  ) {}

  put(source: BlobSource): Promise<BlobRef> {
    return this.files.put(source);
  }

  open(hash: string, range?: ByteRange): Readable {
    const { inline, files } = this;
    return Readable.from(
      (async function* () {
        // The inline store reports a missing blob before yielding anything, so falling back is safe.
        try {
          yield* inline.open(hash, range);
        } catch (error) {
          if ((error as { code?: string }).code !== 'blob-not-found') throw error;
          yield* files.open(hash, range);
        }
      })(),
      { objectMode: false },
    );
  }

  async has(hash: string): Promise<boolean> {
    return (await this.inline.has(hash)) || (await this.files.has(hash));
  }

  async deleteIfStoredBefore(hash: string, storedBefore: number): Promise<void> {
    await this.inline.deleteIfStoredBefore(hash, storedBefore);
    await this.files.deleteIfStoredBefore(hash, storedBefore);
  }
}
