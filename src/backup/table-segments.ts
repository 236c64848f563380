// Large tables dumped in segments that backups into the same target share. blob_metadata holds
// about 1 KB per message (MIME structure, envelope, header fields) and messages a row per message:
// dumped whole they were most of an incremental backup's time. Their rows are cut into segments by
// a key that only grows (creation time, id); a segment whose rows are the same as in an earlier
// backup is not written again: the new manifest names the same file.
//
//   <to>/segments/<table>-<fingerprint>.ndjson.gz    a header line, then the segment's rows
//
// Whether a segment is "the same" is read from a fingerprint of its rows taken in one cheap scan
// (their number, identities and the lengths of their values; see `segmentedTables`), not from the
// rows themselves. That is sound only where every change to a row shows in it: blob_metadata's rows
// are derived from a content (named by its hash), and the one update they get, a MIME structure
// re-derived in a newer form, leaves a valid older form in a segment that missed it (the server
// re-derives it again when it reads it); a messages row changes in place only by a flag change,
// which always gives it a higher modseq (test/architecture/message-updates.test.ts keeps it so).
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
  /** What identifies a row (hashed into the fingerprint). */
  identity: string;
  /** A non-negative integer per row that changes when its values do (their lengths, mostly). */
  measure: string;
}

/** Tables dumped in segments, and how their rows are fingerprinted. */
export const segmentedTables: Record<string, SegmentedTable> = {
  blob_metadata: {
    key: 'created_at',
    identity: 'hash',
    measure: 'length(tree) + length(envelope) + length(headers) + coalesce(sent_at, 0) % 1000003',
  },
  messages: { key: 'id', identity: 'id', measure: 'modseq + length(flags)' },
};

/**
 * Rows per segment. The last segment takes the new rows and is cut again once it holds more: its
 * first rows then form a closed segment, which is the file it was before whenever nothing was
 * removed from it. An incremental backup rewrites at most about this many rows per table.
 */
export const defaultRowsPerSegment = 5_000;

const fingerprintModulus = 2 ** 48;

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
  const name = quoteIdentifier(table.name);

  // One scan of small values: each row's key and a number standing for its identity and values.
  const keys: number[] = [];
  const digests: number[] = [];
  for await (const [key, identity, measure] of snapshot.query(
    `select ${quoteIdentifier(spec.key)}, ${quoteIdentifier(spec.identity)}, ${spec.measure} from ${name}`,
    [],
  )) {
    keys.push(Number(key));
    digests.push((Number.parseInt(String(identity).slice(0, 12), 16) + Number(measure)) % fingerprintModulus);
  }
  const order = keys.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]!);

  // Boundaries: the previous backup's (each segment's lower bound), then new ones where the last grew.
  const lowerBounds: (number | null)[] = previous?.segments.length ? previous.segments.map((s) => s.from) : [null];
  const members = groupBySegment(order, keys, lowerBounds);
  const last = members.length - 1;
  if (members[last]!.length > rowsPerSegment) {
    const { bounds, groups } = cut(members[last]!, keys, rowsPerSegment);
    lowerBounds.push(...bounds);
    members.splice(last, 1, ...groups);
  }

  const dir = join(to, segmentsDirName);
  await mkdir(dir, { recursive: true });
  const segments: SegmentEntry[] = [];
  const files: Record<string, FileEntry> = {};
  let bytesWritten = 0;
  let rows = 0;
  let wrote = false;
  for (const [i, group] of members.entries()) {
    if (group.length === 0) continue;
    const from = lowerBounds[i] ?? null;
    const to = i + 1 < lowerBounds.length ? lowerBounds[i + 1]! : null;
    let sum = 0;
    for (const row of group) sum = (sum + digests[row]!) % fingerprintModulus;
    // Named by what its rows are, not where its bounds are: the same rows, the same file.
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([table.name, table.columns, schemaVersion, group.length, sum]))
      .digest('hex')
      .slice(0, 40);
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
    segments.push({ file, from, to, rows: group.length });
    rows += group.length;
  }
  if (wrote) await syncDirectory(dir);
  return { segments, files, rows, bytesWritten };
}

/** Row indexes (sorted by key) grouped by the segment their key falls in. */
function groupBySegment(order: number[], keys: number[], lowerBounds: (number | null)[]): number[][] {
  const groups: number[][] = lowerBounds.map(() => []);
  let segment = 0;
  for (const row of order) {
    while (segment + 1 < lowerBounds.length && keys[row]! >= lowerBounds[segment + 1]!) segment++;
    groups[segment]!.push(row);
  }
  return groups;
}

/** A segment that grew cut into pieces of rowsPerSegment rows, each starting where the key changes. */
function cut(group: number[], keys: number[], rowsPerSegment: number): { bounds: number[]; groups: number[][] } {
  const bounds: number[] = [];
  const groups: number[][] = [[]];
  for (const row of group) {
    const current = groups.at(-1)!;
    if (current.length >= rowsPerSegment && keys[row]! !== keys[current.at(-1)!]) {
      bounds.push(keys[row]!);
      groups.push([row]);
    } else current.push(row);
  }
  return { bounds, groups };
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
  const key = spec.key;
  const where: string[] = [];
  const params: number[] = [];
  if (from !== null) {
    where.push(`${quoteIdentifier(key)} >= ?`);
    params.push(from);
  }
  if (to !== null) {
    where.push(`${quoteIdentifier(key)} < ?`);
    params.push(to);
  }
  const tmp = join(path, '..', `.tmp-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const writer = await createNdjsonWriter(tmp);
  try {
    await writer.write({ table: table.name, columns: table.columns });
    const select = `select ${table.columns.map(quoteIdentifier).join(', ')} from ${quoteIdentifier(table.name)}`;
    const order = ` order by ${quoteIdentifier(key)}, ${quoteIdentifier(spec.identity)}`;
    for await (const row of snapshot.query(
      `${select}${where.length ? ` where ${where.join(' and ')}` : ''}${order}`,
      params,
    ))
      await writer.write(row.map(encodeValue));
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
