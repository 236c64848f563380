import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBlob, readBlobBytes } from '../../src/store/blobs/blob-store.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore } from '../helpers/store.ts';

async function* slowly(data: Buffer, pieceSize: number) {
  for (let offset = 0; offset < data.length; offset += pieceSize) yield data.subarray(offset, offset + pieceSize);
}

for (const name of backendNames) {
  describe(`blob store on ${name}`, { skip: skipFor(name) }, () => {
    it('stores content under its SHA-256 and streams it back', async () => {
      const t = await createTestStore(name);
      try {
        const content = Buffer.from('Subject: hello\r\n\r\nworld\r\n');
        const ref = await t.store.blobs.put(content);
        assert.equal(ref.hash, createHash('sha256').update(content).digest('hex'));
        assert.equal(ref.size, content.length);
        assert.ok(await t.store.blobs.has(ref.hash));
        assert.deepEqual(await readBlob(t.store.blobs, ref.hash), content);
      } finally {
        await t.close();
      }
    });

    it('keeps identical content once', async () => {
      const t = await createTestStore(name);
      try {
        const content = randomBytes(1000);
        const a = await t.store.blobs.put(content);
        const b = await t.store.blobs.put(slowly(content, 7));
        assert.equal(a.hash, b.hash);
        if (name === 'sqlite') {
          const dir = join(t.backend.dataDir, 'blobs', a.hash.slice(0, 2), a.hash.slice(2, 4));
          assert.deepEqual(await readdir(dir), [a.hash]);
          assert.deepEqual(await readdir(join(t.backend.dataDir, 'blobs', 'tmp')), [], 'no temporary files left');
        } else {
          const rows = await t.store.db.selectFrom('blob_chunks').select('chunks_key').distinct().execute();
          assert.equal(rows.length, 1, 'one set of chunks');
        }
      } finally {
        await t.close();
      }
    });

    it('streams a large message in and out in pieces', async () => {
      const t = await createTestStore(name);
      try {
        const content = randomBytes(3 * 1024 * 1024 + 17);
        const ref = await t.store.blobs.put(slowly(content, 64 * 1024));
        let pieces = 0;
        let largest = 0;
        const hasher = createHash('sha256');
        for await (const chunk of t.store.blobs.open(ref.hash)) {
          pieces++;
          largest = Math.max(largest, chunk.length);
          hasher.update(chunk);
        }
        assert.equal(hasher.digest('hex'), ref.hash);
        assert.ok(pieces > 1, 'read in more than one piece');
        assert.ok(largest <= 256 * 1024, `no piece larger than 256 KiB (saw ${largest})`);
      } finally {
        await t.close();
      }
    });

    it('streams byte ranges of large and small content', async () => {
      const t = await createTestStore(name);
      try {
        const large = randomBytes(2 * 1024 * 1024 + 5);
        const small = Buffer.from('a short message body');
        const [largeRef, smallRef] = [
          await t.store.blobs.put(slowly(large, 64 * 1024)),
          await t.store.blobs.put(small),
        ];
        for (const [start, end] of [
          [0, 10],
          [300_000, 1_900_001],
          [large.length - 3, large.length],
          [5, 5],
        ]) {
          assert.deepEqual(
            await readBlobBytes(t.store.blobs, largeRef.hash, start!, end!),
            large.subarray(start, end),
            `large ${start}-${end}`,
          );
        }
        assert.deepEqual(await readBlobBytes(t.store.blobs, smallRef.hash, 2, 7), small.subarray(2, 7));
      } finally {
        await t.close();
      }
    });

    it('reports missing content and deletes', async () => {
      const t = await createTestStore(name);
      try {
        await assert.rejects(readBlob(t.store.blobs, 'f'.repeat(64)), { code: 'blob-not-found' });
        const ref = await t.store.blobs.put(Buffer.from('gone soon'));
        await t.store.blobs.deleteIfStoredBefore(ref.hash, Number.MAX_SAFE_INTEGER);
        assert.equal(await t.store.blobs.has(ref.hash), false);
        await assert.rejects(readBlob(t.store.blobs, ref.hash), { code: 'blob-not-found' });
      } finally {
        await t.close();
      }
    });
  });
}
