// Reading a pack's contents back in worker threads (pack-decoder.ts), as a restore does: every
// content comes back whole and checked, also when the blocks are lent through a small ring of shared
// memory that the workers fill again while the caller is still at work on earlier contents.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { PackWriter } from '../../src/backup/content-packs.ts';
import { ContentPool } from '../../src/backup/content-pool.ts';
import { decodePackContents } from '../../src/backup/pack-decoder.ts';
import { tempDir } from '../helpers/backends.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A pool of `count` random contents of 2–70 KB and one of 3 MB (a block of its own), in two packs. */
async function writePool(dir: string, count: number) {
  const contents = new Map<string, Buffer>();
  for (const prefix of ['backup-a', 'backup-b']) {
    const writer = new PackWriter(join(dir, 'packs'), prefix);
    for (let i = 0; i < count / 2; i++) {
      const data = randomBytes(2_000 + Math.floor(Math.random() * 68_000));
      contents.set(sha256(data), data);
      await writer.add(sha256(data), data);
    }
    await writer.finish();
  }
  const large = randomBytes(3 * 1024 * 1024);
  contents.set(sha256(large), large);
  const writer = new PackWriter(join(dir, 'packs'), 'backup-c');
  await writer.add(sha256(large), large);
  await writer.finish();
  return contents;
}

describe('pack contents read back by workers', () => {
  for (const lent of [false, true])
    it(`gives every content whole and checked${lent ? ', through a ring that wraps many times' : ''}`, async (t) => {
      const dir = await tempDir();
      t.after(() => rm(dir, { recursive: true, force: true }));
      await mkdir(join(dir, 'packs'));
      const contents = await writePool(dir, 400);
      const pool = await ContentPool.open(dir);
      const seen = new Set<string>();
      let transferredWhole = 0;
      // A ring of 1 MB holds a few blocks of 256 KB: the workers wait for the caller and wrap round
      // again and again; the 3 MB content's block does not fit and is transferred instead.
      for await (const item of decodePackContents(
        pool.packsDir,
        [...pool.located()].map(([, entry]) => entry),
        {
          lent,
          ringBytes: 1024 * 1024,
        },
      )) {
        assert.ok('data' in item, `${item.hash} failed: ${'error' in item ? item.error.message : ''}`);
        // The caller is slow: the workers run ahead meanwhile, into the ring's free part only.
        await turn();
        assert.equal(sha256(item.data), item.hash, 'the bytes are still the content when the caller reads them');
        assert.ok(!seen.has(item.hash), 'each content comes once');
        seen.add(item.hash);
        if (item.data.length > 1024 * 1024) transferredWhole++;
      }
      assert.equal(seen.size, contents.size);
      assert.equal(transferredWhole, 1);
    });
});
