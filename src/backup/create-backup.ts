// `holdfast backup create`: a consistent copy of a live store, taken while it serves. One snapshot
// (store-snapshot.ts) gives every table and the list of contents as of one moment; the contents go
// to the target's shared pool (content-pool.ts), only those not there yet, appended to packs of
// this backup's own (content-packs.ts); a hold keeps the content
// collector from deleting any of them meanwhile (content-hold.ts). Everything is written into a
// temporary directory that is renamed to the backup's id once complete, manifest included: a crash
// leaves a `.partial-…` directory, never something that looks like a backup.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describeLocation } from '../store/database.ts';
import type { Store } from '../store/store.ts';
import { version } from '../version.ts';
import {
  backupFormat,
  backupFormatVersion,
  backupId,
  contentsListName,
  encodeValue,
  manifestName,
  tableFile,
  type BackupManifest,
  type FileEntry,
  type TableEntry,
} from './backup-format.ts';
import { takeContentHold } from './content-hold.ts';
import { PackWriter, packsDirName, streamedContentBytes } from './content-packs.ts';
import { ContentPool } from './content-pool.ts';
import { chain, readHead } from './content-stream.ts';
import { syncDirectory, writeFileAtomically } from './durable-files.ts';
import { createNdjsonWriter } from './ndjson-files.ts';
import { openSnapshot } from './store-snapshot.ts';
import { listBackups } from './backup-list.ts';
import { openBackup } from './open-backup.ts';
import { segmentedTables, writeSegments } from './table-segments.ts';
import { BoundedWork } from './bounded-work.ts';

export interface BackupProgress {
  table?: string;
  rows?: number;
  blobs?: number;
}

export interface CreateBackupOptions {
  to: string;
  now?: () => number;
  /** Called after each table (awaited, if it returns a promise) and every 1,000 contents. */
  onProgress?: (progress: BackupProgress) => void | Promise<void>;
  /** Rows per segment of a large table (table-segments.ts); tests make it small. */
  segmentRows?: number;
}

export interface BackupSummary {
  id: string;
  dir: string;
  createdAt: number;
  schemaVersion: number;
  dialect: 'sqlite' | 'postgres';
  counts: Record<string, number>;
  /** Contents the backup refers to. */
  blobs: number;
  /** Of those, the ones this backup wrote to the pool (the others were there from earlier backups). */
  newBlobs: number;
  /** Bytes written: table files, new contents (compressed), manifest. */
  bytesWritten: number;
  durationMs: number;
  /** Contents the store should have had but did not (lost before this backup); normally none. */
  missingBlobs: string[];
}

/** Contents read from the store and compressed at once (compression runs in the thread pool). */
const parallelCopies = 8;

export async function createBackup(store: Store, options: CreateBackupOptions): Promise<BackupSummary> {
  const now = options.now ?? Date.now;
  const started = Date.now();
  const to = options.to;
  await mkdir(to, { recursive: true });
  const createdAt = now();
  const { id, partial } = await claimId(to, createdAt);
  await mkdir(join(partial, 'tables'));
  const hold = await takeContentHold(store.db, now, `backup ${id}`);
  try {
    const snapshot = await openSnapshot(store);
    const files: Record<string, FileEntry> = {};
    const tables: TableEntry[] = [];
    const counts: Record<string, number> = {};
    let bytesWritten = 0;
    // The target's pool of contents is opened (its pack indexes read) while the tables are dumped.
    const opening = ContentPool.open(to);
    opening.catch(() => {}); // met below
    const packsDir = join(to, packsDirName);
    await mkdir(packsDir, { recursive: true });
    const packs = new PackWriter(packsDir, id);
    let contentCount = 0;
    let contentBytes = 0;
    let newBlobs = 0;
    const missing: string[] = [];
    try {
      const previous = await newestManifest(to, snapshot.schemaVersion);
      for (const table of snapshot.tables) {
        if (segmentedTables[table.name]) {
          const before = previous?.tables.find((t) => t.name === table.name);
          const written = await writeSegments(
            snapshot,
            table,
            to,
            snapshot.schemaVersion,
            before?.segments && previous ? { segments: before.segments, files: previous.files } : undefined,
            options.segmentRows,
          );
          Object.assign(files, written.files);
          bytesWritten += written.bytesWritten;
          tables.push({
            name: table.name,
            file: written.segments[0]?.file ?? '',
            columns: table.columns,
            rows: written.rows,
            segments: written.segments,
          });
          counts[table.name] = written.rows;
          await options.onProgress?.({ table: table.name, rows: written.rows });
          continue;
        }
        const file = tableFile(table.name);
        const writer = await createNdjsonWriter(join(partial, file));
        let rows = 0;
        try {
          await writer.write({ table: table.name, columns: table.columns });
          for await (const batch of snapshot.rows(table))
            for (const row of batch) {
              await writer.write(row.map(encodeValue));
              if (++rows % 10_000 === 0) options.onProgress?.({ table: table.name, rows });
            }
          files[file] = await writer.finish();
        } catch (error) {
          await writer.abort();
          throw error;
        }
        bytesWritten += files[file]!.bytes;
        tables.push({ name: table.name, file, columns: table.columns, rows });
        counts[table.name] = rows;
        // Awaited: a caller may act between the tables and the contents (the tests do, to race the collector).
        await options.onProgress?.({ table: table.name, rows });
      }

      const pool = await opening;
      const list = await createNdjsonWriter(join(partial, contentsListName));
      try {
        const counted = (size: number, added: boolean) => {
          contentCount++;
          contentBytes += size;
          if (added) newBlobs++;
          if (contentCount % 1000 === 0) options.onProgress?.({ blobs: contentCount });
        };
        const listed = async (hash: string, copied: { size: number; added: boolean }) => {
          await list.write([hash, copied.size]);
          counted(copied.size, copied.added);
        };
        const copyOne = async (hash: string, required: boolean) => {
          // Most mail is kept inline: read in the snapshot with one query, not through a blob stream.
          const inline = await snapshot.inlineContent(hash);
          if (inline) {
            await packs.add(hash, inline);
            return { size: inline.length, added: true };
          }
          try {
            return await copyContent(packs, hash, store.blobs.open(hash) as Readable);
          } catch (error) {
            if ((error as { code?: string }).code !== 'blob-not-found') throw error;
            // Referenced only by metadata: content the collector took before the snapshot's hold.
            if (required) missing.push(hash);
            return undefined;
          }
        };
        const copies = new BoundedWork(parallelCopies);
        try {
          for await (const batch of snapshot.contents()) {
            // In an incremental backup nearly every content is in the pool already: listed, nothing to copy.
            const pooled: [string, number][] = [];
            for (const { hash, required } of batch) {
              const pooledSize = pool.size(hash);
              if (pooledSize !== undefined) {
                pooled.push([hash, pooledSize]);
                counted(pooledSize, false);
                continue;
              }
              // Waits while `parallelCopies` run; throws the first copy's failure.
              await copies.add(copyOne(hash, required).then((copied) => copied && listed(hash, copied)));
            }
            await list.writeAll(pooled);
          }
          await copies.all();
        } finally {
          // Whatever ended the loop, no copy is still writing into a pack when the packs are finished or given up.
          await copies.settled();
        }
        // Packs sealed before a failure stay: their contents are whole, and a later backup uses them.
        await packs.finish();
        bytesWritten += packs.bytesWritten;
        files[contentsListName] = await list.finish();
        bytesWritten += files[contentsListName]!.bytes;
        options.onProgress?.({ blobs: contentCount });
      } catch (error) {
        await list.abort();
        await packs.abort();
        throw error;
      }
    } finally {
      await snapshot.close();
    }

    await syncDirectory(join(partial, 'tables'));
    const manifest: BackupManifest = {
      format: backupFormat,
      formatVersion: backupFormatVersion,
      id,
      createdAt,
      finishedAt: now(),
      holdfastVersion: version,
      schemaVersion: snapshot.schemaVersion,
      dialect: snapshot.dialect,
      source: describeLocation(store.handle.location),
      tables,
      contents: { file: contentsListName, count: contentCount, bytes: contentBytes, missing: missing.sort() },
      files,
    };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFileAtomically(join(partial, manifestName), manifestText);
    bytesWritten += Buffer.byteLength(manifestText);
    // The commit point: the directory appears under its id, complete.
    await rename(partial, join(to, id));
    await syncDirectory(to);
    return {
      id,
      dir: join(to, id),
      createdAt,
      schemaVersion: snapshot.schemaVersion,
      dialect: snapshot.dialect,
      counts,
      blobs: contentCount,
      newBlobs,
      bytesWritten,
      durationMs: Date.now() - started,
      missingBlobs: manifest.contents.missing,
    };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  } finally {
    await hold.release().catch(() => {});
  }
}

/** The manifest of the newest complete backup in `to` of this schema version, if any (its segments are shared). */
async function newestManifest(to: string, schemaVersion: number): Promise<BackupManifest | undefined> {
  const newest = (await listBackups(to)).filter((b) => b.schemaVersion === schemaVersion).at(-1);
  if (!newest) return undefined;
  return (await openBackup(newest.dir).catch(() => undefined))?.manifest;
}

/** Reads one content from the store into a pack: most whole (compressed a block at a time), a large one streamed. */
async function copyContent(packs: PackWriter, hash: string, source: Readable): Promise<{ size: number; added: true }> {
  const read = await readHead(source, streamedContentBytes);
  if (read.rest) return { ...(await packs.addStream(hash, chain(read.head, read.rest))), added: true };
  const data = Buffer.concat(read.head, read.headBytes);
  await packs.add(hash, data);
  return { size: data.length, added: true };
}

/**
 * The id for a backup taken at `at` (with a suffix if one of that second exists already) and its
 * partial directory, claimed by creating it: two backups started in the same second (a scheduled one
 * and one by hand) never pick the same id.
 */
async function claimId(to: string, at: number): Promise<{ id: string; partial: string }> {
  const base = backupId(at);
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    const taken = await stat(join(to, id)).then(
      () => true,
      () => false,
    );
    if (taken) continue;
    const partial = join(to, `.partial-${id}`);
    try {
      await mkdir(partial);
      return { id, partial };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
