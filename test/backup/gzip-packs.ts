// Pack files written by hand, for tests of what PackWriter no longer writes or never writes: packs of
// format-2 backups (gzip blocks), and blocks that decompress to more than their index says. The
// layout is content-packs.ts's: blocks, a gzip'd JSON index of [hash, offset, length, start, size],
// and a footer ("HFPACK01", the index's offset and length, 64-bit little-endian).
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { decompressBlock } from '../../src/backup/block-codec.ts';
import { packSuffix, readPackBlock, readPackIndex } from '../../src/backup/content-packs.ts';

/** One block as it goes into a pack: its compressed bytes and its contents, [hash, start, size]. */
export interface RawBlock {
  compressed: Buffer;
  contents: [string, number, number][];
}

/** Writes a whole pack of these blocks at `path`. */
export async function writePack(path: string, blocks: RawBlock[]): Promise<void> {
  const parts: Buffer[] = [];
  const index: [string, number, number, number, number][] = [];
  let offset = 0;
  for (const { compressed, contents } of blocks) {
    for (const [hash, start, size] of contents) index.push([hash, offset, compressed.length, start, size]);
    parts.push(compressed);
    offset += compressed.length;
  }
  const indexBytes = gzipSync(JSON.stringify(index));
  const footer = Buffer.alloc(24);
  footer.write('HFPACK01', 0, 'latin1');
  footer.writeBigUInt64LE(BigInt(offset), 8);
  footer.writeBigUInt64LE(BigInt(indexBytes.length), 16);
  await writeFile(path, Buffer.concat([...parts, indexBytes, footer]));
}

/** Writes every pack of `fromDir` again into `toDir` as a format-2 backup had it: each block a gzip member. */
export async function rewriteAsGzip(fromDir: string, toDir: string): Promise<void> {
  for (const name of (await readdir(fromDir)).filter((n) => n.endsWith(packSuffix))) {
    const byBlock = new Map<number, RawBlock>();
    for (const entry of await readPackIndex(fromDir, name)) {
      let block = byBlock.get(entry.offset);
      if (!block) {
        const data = await decompressBlock(await readPackBlock(fromDir, entry), entry.blockSize);
        byBlock.set(entry.offset, (block = { compressed: gzipSync(data), contents: [] }));
      }
      block.contents.push([entry.hash, entry.start, entry.size]);
    }
    await writePack(join(toDir, name), [...byBlock.values()]);
  }
}
