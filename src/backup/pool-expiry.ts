// Removing from a backup target's content pool what no kept backup needs. A pack none of whose
// contents is needed is deleted; a pack mostly unneeded (less than half its content bytes needed)
// has its needed contents written into a new pack and is then deleted; other packs stay whole (an
// unneeded content in a mostly needed pack waits for a later expiry). Format-1 pool files
// (one per content) go one by one. The caller makes sure no backup is being written meanwhile.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PackWriter, type PackEntry } from './content-packs.ts';
import { ContentPool, legacyPoolContents, removeLegacyContent } from './content-pool.ts';

export interface PoolExpiry {
  contentsRemoved: number;
  bytesFreed: number;
}

export async function expirePool(to: string, needed: Set<string>, now: number): Promise<PoolExpiry> {
  let contentsRemoved = 0;
  let bytesFreed = 0;
  for await (const hash of legacyPoolContents(to)) {
    if (needed.has(hash)) continue;
    bytesFreed += await removeLegacyContent(to, hash);
    contentsRemoved++;
  }

  const pool = await ContentPool.open(to);
  // Each needed content counts in one pack only (the pool's choice): a copy left in another pack by
  // an interrupted expiry is unneeded there and goes with it.
  const live = new Map<string, PackEntry[]>(pool.packs.map((pack) => [pack, []]));
  const contentBytes = new Map<string, number>(pool.packs.map((pack) => [pack, 0]));
  const counts = new Map<string, number>(pool.packs.map((pack) => [pack, 0]));
  for (const [hash, entry] of pool.located()) {
    counts.set(entry.pack, (counts.get(entry.pack) ?? 0) + 1);
    contentBytes.set(entry.pack, (contentBytes.get(entry.pack) ?? 0) + entry.size);
    if (needed.has(hash)) live.get(entry.pack)?.push(entry);
  }
  const packBytes = async (pack: string) => (await stat(join(pool.packsDir, pack))).size;
  const rewrite = new PackWriter(pool.packsDir, `expiry-${now}`);
  const goes: string[] = [];
  try {
    for (const pack of pool.packs) {
      const entries = live.get(pack)!;
      const liveBytes = entries.reduce((sum, e) => sum + e.size, 0);
      if (entries.length > 0 && liveBytes * 2 >= contentBytes.get(pack)!) continue;
      for await (const { hash, data } of pool.read(entries.map((e) => e.hash))) await rewrite.add(hash, await data);
      const bytes = await packBytes(pack);
      goes.push(pack);
      bytesFreed += bytes;
      contentsRemoved += (counts.get(pack) ?? 0) - entries.length;
    }
    // The copies are on disk before the packs they came from go.
    await rewrite.finish();
  } catch (error) {
    await rewrite.abort();
    throw error;
  }
  bytesFreed -= rewrite.bytesWritten;
  for (const pack of goes) await rm(join(pool.packsDir, pack), { force: true });
  return { contentsRemoved, bytesFreed };
}
