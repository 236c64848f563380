// Large tables dumped in segments that backups into the same target share. blob_metadata holds
// about 1 KB per message (MIME structure, envelope, header fields) and messages a row per message:
// dumped whole they were most of an incremental backup's time. Their rows are cut into segments by
// a key that only grows (creation time, id); a segment whose rows are the same as in an earlier
// backup is not written again: the new manifest names the same file.
//
//   <to>/segments/<table>-<fingerprint>.ndjson.gz    a header line, then the segment's rows
//
// Whether a segment is "the same" is read from a fingerprint that the database computes in one
// aggregate over the segment's key range, with no row coming back: the rows' number, the sum of
// their keys and the sum of a measure per row that stands for its identity and for the changes it
// can get in place (see `segmentedTables`). A row removed or added changes the number; one removed
// and another added at once change the sums. That is sound only where every change to a row shows
// in its measure, and only ever in one direction (two changes must not cancel out):
// - a messages row changes in place only by a flag change, which always gives it a higher modseq
//   (test/architecture/message-updates.test.ts keeps it so): its measure is its modseq, which only
//   rises, plus the first six hex digits of its content's hash (twelve on PostgreSQL). The hash
//   matters after a restore of an older backup that goes on into the same target: new mail then
//   gets the ids and modseqs the lost mail had, and only the content tells the two apart. (The
//   flags' length is not in it: a flag removed shortens them by as much as the modseq may have
//   risen.)
// - blob_metadata's rows are derived from a content (named by its hash). The one update they get, a
//   MIME structure re-derived in a newer form, leaves a valid older form in a segment that missed
//   it (the server re-derives it again when it reads it), so their measure is their identity alone:
//   on PostgreSQL the first 48 bits of the hash; on SQLite the rowid, which the index on created_at
//   holds too, so the aggregate reads that index and not the table (a tenth of the pages; a VACUUM
//   renumbers rowids and makes the next backup write every segment once). A rowid is reused only
//   when the newest row is deleted, and a row added after it with the same rowid has a later
//   created_at (the key), since the content collector deletes only contents older than its grace
//   period.
//
// Segment boundaries are kept from one backup to the next (the newest in the target), so new rows
// (the newest creation times) change only the last segment, and a removed row only its own.
import { createHash } from 'node:crypto';
import { link, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeValue, type FileEntry } from './backup-format.ts';
import { hashFile, syncDirectory } from './durable-files.ts';
import { createNdjsonWriter } from './ndjson-files.ts';
import type { StoreSnapshot } from './snapshot-shape.ts';
import { quoteIdentifier } from './sql-names.ts';
import type { TableInfo } from './table-catalog.ts';

export const segmentsDirName = 'segments';

/** A segment of a table in a backup: rows whose key is in [from, to) (null: unbounded). */
export interface SegmentEntry {
  /** Relative to the backup's directory (`../segments/…`). */
  file: string;
  from: number | null;
  to: number | null;
  rows: number;
}

interface SegmentedTable {
  /** The column segments are cut by: rows are added with ever larger values of it. */
  key: string;
  /** What identifies a row: rows of the same key are dumped in its order. */
  identity: string;
  /** An integer per row standing for its identity and its changes in place, in each dialect's SQL. */
  measure: Record<StoreSnapshot['dialect'], string>;
}

/** Tables dumped in segments, and how their rows are fingerprinted. */
export const segmentedTables: Record<string, SegmentedTable> = {
  blob_metadata: {
    key: 'created_at',
    identity: 'hash',
    measure: { sqlite: 'rowid', postgres: "('x' || substr(hash, 1, 12))::bit(48)::bigint" },
  },
  messages: {
    key: 'id',
    identity: 'id',
    measure: {
      // Six hex digits as their character codes, seven bits each (SQLite has no hex to integer).
      sqlite: `modseq + ${[0, 1, 2, 3, 4, 5].map((i) => `unicode(substr(blob_hash, ${i + 1}, 1)) * ${2 ** (7 * i)}`).join(' + ')}`,
      postgres: "modseq + ('x' || substr(blob_hash, 1, 12))::bit(48)::bigint",
    },
  },
};

/**
 * Rows per segment. The last segment takes the new rows and is cut again once it holds more: its
 * first rows then form a closed segment, which is the file it was before whenever nothing was
 * removed from it. An incremental backup rewrites at most about this many rows per table.
 */
export const defaultRowsPerSegment = 5_000;

export interface WrittenSegments {
  segments: SegmentEntry[];
  /** The segment files' hashes and sizes, by path relative to the backup's directory. */
  files: Record<string, FileEntry>;
  rows: number;
  /** Bytes of segments written by this backup (not those it shares). */
  bytesWritten: number;
}

/**
 * Dumps `table` of the snapshot into segments under `<to>/segments`, writing only those not there
 * already. `previous`: the table's segments and files in the newest earlier backup in `to` with the
 * same schema, whose boundaries are kept.
 */
export async function writeSegments(
  snapshot: StoreSnapshot,
  table: TableInfo,
  to: string,
  schemaVersion: number,
  previous: { segments: SegmentEntry[]; files: Record<string, FileEntry> } | undefined,
  rowsPerSegment = defaultRowsPerSegment,
): Promise<WrittenSegments> {
  const spec = segmentedTables[table.name]!;

  // Boundaries: the previous backup's (each segment's lower bound), then new ones where the last grew.
  // The first is unbounded whatever the previous one said: a row whose key is older than every
  // bound (a clock set back) still belongs to a segment.
  const lowerBounds: (number | null)[] = [null, ...(previous?.segments.slice(1).map((s) => s.from) ?? [])];
  const lastKeys = await keysFrom(snapshot, table.name, spec, lowerBounds.at(-1)!);
  if (lastKeys.length > rowsPerSegment) lowerBounds.push(...cut(lastKeys, rowsPerSegment));

  const dir = join(to, segmentsDirName);
  await mkdir(dir, { recursive: true });
  const segments: SegmentEntry[] = [];
  const files: Record<string, FileEntry> = {};
  let bytesWritten = 0;
  let rows = 0;
  let wrote = false;
  for (const [i, from] of lowerBounds.entries()) {
    const to = i + 1 < lowerBounds.length ? lowerBounds[i + 1]! : null;
    const { count, fingerprint } = await segmentFingerprint(snapshot, table, spec, schemaVersion, from, to);
    if (count === 0) continue;
    const fileName = `${table.name}-${fingerprint}.ndjson.gz`;
    const file = `../${segmentsDirName}/${fileName}`;
    const path = join(dir, fileName);
    const shared = previous?.files[file];
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) files[file] = shared ?? (await hashFile(path));
    else {
      const dumped = await dumpSegment(snapshot, table, spec, from, to, path);
      files[file] = dumped.entry;
      if (dumped.written) {
        bytesWritten += dumped.entry.bytes;
        wrote = true;
      }
    }
    segments.push({ file, from, to, rows: count });
    rows += count;
  }
  if (wrote) await syncDirectory(dir);
  return { segments, files, rows, bytesWritten };
}

/** The keys of the rows from `from` on (the last segment's), in order. */
async function keysFrom(snapshot: StoreSnapshot, table: string, spec: SegmentedTable, from: number | null) {
  const key = quoteIdentifier(spec.key);
  const range = keyRange(spec, from, null);
  const keys: number[] = [];
  for await (const batch of snapshot.query(
    `select ${key} from ${quoteIdentifier(table)}${range.where} order by ${key}`,
    range.params,
  ))
    for (const [value] of batch) keys.push(Number(value));
  return keys;
}

/** Lower bounds cutting sorted keys into pieces of rowsPerSegment rows, each starting where the key changes. */
function cut(keys: number[], rowsPerSegment: number): number[] {
  const bounds: number[] = [];
  let inPiece = 0;
  for (const [i, key] of keys.entries()) {
    if (inPiece >= rowsPerSegment && key !== keys[i - 1]) {
      bounds.push(key);
      inPiece = 0;
    }
    inPiece++;
  }
  return bounds;
}

/**
 * A segment's row count and fingerprint, from one aggregate over its key range (the database sums,
 * nothing but three numbers comes back). Named by what its rows are, not where its bounds are: the
 * same rows, the same fingerprint. The sums come back as text: exact on both backends, where a
 * sum of millisecond keys passes 2^53 after a few thousand rows.
 */
async function segmentFingerprint(
  snapshot: StoreSnapshot,
  table: TableInfo,
  spec: SegmentedTable,
  schemaVersion: number,
  from: number | null,
  to: number | null,
): Promise<{ count: number; fingerprint: string }> {
  const range = keyRange(spec, from, to);
  let values: unknown[] = [];
  for await (const [row] of snapshot.query(
    `select count(*), cast(sum(${quoteIdentifier(spec.key)}) as text), cast(sum(${spec.measure[snapshot.dialect]}) as text) from ${quoteIdentifier(table.name)}${range.where}`,
    range.params,
  ))
    values = row ?? values;
  const count = Number(values[0] ?? 0);
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([table.name, table.columns, schemaVersion, count, values[1] ?? null, values[2] ?? null]))
    .digest('hex')
    .slice(0, 40);
  return { count, fingerprint };
}

/** `where` for keys in [from, to) (null: unbounded) and its parameters. */
function keyRange(spec: SegmentedTable, from: number | null, to: number | null) {
  const key = quoteIdentifier(spec.key);
  const where: string[] = [];
  const params: number[] = [];
  if (from !== null) {
    where.push(`${key} >= ?`);
    params.push(from);
  }
  if (to !== null) {
    where.push(`${key} < ?`);
    params.push(to);
  }
  return { where: where.length ? ` where ${where.join(' and ')}` : '', params };
}

/**
 * Writes a segment's rows to `path`, published only if no file is there: a backup running at the
 * same time may have written the same segment, and the one there first stays (its hash may already
 * be in that backup's manifest).
 */
async function dumpSegment(
  snapshot: StoreSnapshot,
  table: TableInfo,
  spec: SegmentedTable,
  from: number | null,
  to: number | null,
  path: string,
): Promise<{ entry: FileEntry; written: boolean }> {
  const range = keyRange(spec, from, to);
  const tmp = join(path, '..', `.tmp-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const writer = await createNdjsonWriter(tmp);
  try {
    await writer.write({ table: table.name, columns: table.columns });
    const select = `select ${table.columns.map(quoteIdentifier).join(', ')} from ${quoteIdentifier(table.name)}`;
    const order = ` order by ${quoteIdentifier(spec.key)}, ${quoteIdentifier(spec.identity)}`;
    for await (const batch of snapshot.query(`${select}${range.where}${order}`, range.params))
      for (const row of batch) await writer.write(row.map(encodeValue));
    const entry = await writer.finish();
    const published = await link(tmp, path).then(
      () => true,
      (error: NodeJS.ErrnoException) => (error.code === 'EEXIST' ? false : Promise.reject(error)),
    );
    await rm(tmp, { force: true });
    return published ? { entry, written: true } : { entry: await hashFile(path), written: false };
  } catch (error) {
    await writer.abort();
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Removes the segment files no kept backup lists (`needed`: paths as manifests name them), and leftovers. */
export async function expireSegments(to: string, needed: Set<string>): Promise<{ removed: number; bytes: number }> {
  const dir = join(to, segmentsDirName);
  let removed = 0;
  let bytes = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (needed.has(`../${segmentsDirName}/${name}`)) continue;
    bytes += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
    await rm(join(dir, name), { force: true });
    if (!name.startsWith('.tmp-')) removed++;
  }
  return { removed, bytes };
}
