// Reading a pack's contents back in worker threads (pack-decoder.ts), as a restore does: every
// content comes back whole and checked, also when the blocks are lent through a small ring of shared
// memory that the workers fill again while the caller is still at work on earlier contents; packs of
// format 2 (gzip blocks) are read as well; a block that would decompress to more than its index
// says is refused without being decompressed into memory.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { compressBlock, compressingStream } from '../../src/backup/block-codec.ts';
import { PackWriter } from '../../src/backup/content-packs.ts';
import { ContentPool } from '../../src/backup/content-pool.ts';
import { readAll } from '../../src/backup/content-stream.ts';
import { decodePackContents, type DecodedContent } from '../../src/backup/pack-decoder.ts';
import { tempDir } from '../helpers/backends.ts';
import { rewriteAsGzip, writePack } from './gzip-packs.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A pool of `count` random contents of 2–70 KB in two packs, and one of 3 MB and one of 9 MB (each a block of its own) in a third. */
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
  // As create-backup.ts adds a content of 8 MB or more: streamed, one zstd frame of unknown size.
  const huge = Buffer.concat([randomBytes(4 * 1024 * 1024), Buffer.alloc(5 * 1024 * 1024, 'x')]);
  contents.set(sha256(huge), huge);
  await writer.addStream(
    sha256(huge),
    (async function* () {
      for (let at = 0; at < huge.length; at += 1024 * 1024) yield huge.subarray(at, at + 1024 * 1024);
    })(),
  );
  await writer.finish();
  return contents;
}

/** Every content of the pool at `dir`, read by the workers. */
async function decodeAll(dir: string, lent: boolean): Promise<DecodedContent[]> {
  const pool = await ContentPool.open(dir);
  const read: DecodedContent[] = [];
  for await (const item of decodePackContents(
    pool.packsDir,
    [...pool.located()].map(([, entry]) => entry),
    { lent },
  ))
    read.push('data' in item ? { hash: item.hash, data: Buffer.from(item.data) } : item);
  return read;
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
      // again and again; the 3 MB and 9 MB contents' blocks do not fit and are transferred instead.
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
      assert.equal(transferredWhole, 2);
    });

  it('reads packs of format 2, whose blocks are gzip members, and writes zstd frames', async (t) => {
    const dir = await tempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'packs'));
    await mkdir(join(dir, 'old', 'packs'), { recursive: true });
    const contents = await writePool(dir, 60);
    await rewriteAsGzip(join(dir, 'packs'), join(dir, 'old', 'packs'));
    const firstBytes = async (path: string) => (await readFile(path)).subarray(0, 4).toString('hex');
    assert.equal(await firstBytes(join(dir, 'packs', 'backup-a-0001.pack')), '28b52ffd', 'a zstd frame');
    assert.equal((await firstBytes(join(dir, 'old', 'packs', 'backup-a-0001.pack'))).slice(0, 4), '1f8b', 'gzip');
    for (const lent of [false, true]) {
      const read = await decodeAll(join(dir, 'old'), lent);
      assert.equal(read.length, contents.size);
      for (const item of read) assert.ok('data' in item && sha256(item.data) === item.hash, `${item.hash} read back`);
    }
    const pool = await ContentPool.open(join(dir, 'old'));
    for (const [hash, data] of contents) assert.ok((await readAll(pool.open(hash))).equals(data), 'read alone');
  });

  it('refuses a block that does not hold what its index says, before allocating a bomb, and gives the rest', async (t) => {
    const dir = await tempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'packs'));
    // 256 MB of zeros compress to a few kilobytes: decompressed whole, they would be 256 MB of memory.
    // A streamed content's frame does not state its size; one of a block's does.
    const bomb = Buffer.alloc(256 * 1024 * 1024);
    const kilobyte = bomb.subarray(0, 1024);
    const good = randomBytes(5_000);
    const streamed = async (data: Buffer) => buffer(Readable.from([data]).pipe(compressingStream()));
    const flipped = compressBlock(randomBytes(5_000));
    flipped[100]! ^= 0xff;
    const id = (n: number) => sha256(Buffer.from(`content ${n}`));
    const blocks = [
      { compressed: compressBlock(good), contents: [[sha256(good), 0, good.length]] },
      { compressed: compressBlock(bomb), contents: [[id(1), 0, 1024]] },
      { compressed: await streamed(bomb), contents: [[id(2), 0, 1024]] },
      { compressed: gzipSync(bomb), contents: [[id(3), 0, 1023]] },
      { compressed: gzipSync(kilobyte), contents: [[id(4), 0, 3 * 1024 ** 3]] },
      { compressed: await streamed(kilobyte), contents: [[id(5), 0, 2048]] },
      { compressed: Buffer.from('28b52ffd0000deadbeef', 'hex'), contents: [[id(6), 0, 10]] },
      { compressed: flipped, contents: [[id(7), 0, 5_000]] },
    ] as Parameters<typeof writePack>[1];
    await writePack(join(dir, 'packs', 'backup-x-0001.pack'), blocks);
    const expected = [
      undefined,
      /^its index says its block holds 1024 bytes, but the block says 268435456$/,
      /^its block decompresses to more bytes than its index says$/,
      /^its block decompresses to more bytes than its index says$/,
      /^its index says its block holds 3221225472 bytes, more than its \d+ compressed bytes can hold$/,
      /^its block decompresses to 1024 bytes, not the 2048 its index says$/,
      /^its block cannot be decompressed \(.+\)$/,
      /^its block cannot be decompressed \(.*checksum.*\)$/,
    ];
    for (const lent of [false, true]) {
      const read = await decodeAll(dir, lent);
      assert.equal(read.length, blocks.length);
      read.forEach((item, i) => {
        const problem = expected[i];
        if (!problem) assert.ok('data' in item && item.data.equals(good), 'the good block is read');
        else assert.match('error' in item ? item.error.message : 'read', problem, `block ${i}, lent: ${lent}`);
      });
    }
    // Read alone, as a partial restore does: the same answers.
    const pool = await ContentPool.open(dir);
    for (const [i, block] of blocks.entries()) {
      const reading = readAll(pool.open(block.contents[0]![0]));
      const problem = expected[i];
      if (problem) await assert.rejects(reading, { message: problem });
      else assert.ok((await reading).equals(good));
    }
  });
});
