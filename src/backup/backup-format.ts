// The on-disk format of a backup, shared by everything that writes or reads one. Logical and
// backend-neutral, so a backup of SQLite restores into PostgreSQL and back:
//
//   <to>/<id>/manifest.json                 written last; a directory without it is incomplete
//   <to>/<id>/tables/<table>.ndjson.gz      a header line, then one JSON array of values per row
//   <to>/segments/<table>-<fp>.ndjson.gz    the same for part of a large table, shared by every
//                                           backup in <to> whose rows there are the same
//                                           (table-segments.ts)
//   <to>/<id>/contents.ndjson.gz            [hash, size] of every content the snapshot refers to
//   <to>/packs/<id>-0001.pack               the contents, shared by every backup in <to>
//                                           (content-packs.ts)
//
// Contents are named by the SHA-256 of their uncompressed bytes (as the store names them), so a
// later backup into the same place writes only contents it does not find there. Format 1 kept one
// file per content, <to>/blobs/ab/cd/<sha256>.gz; its backups are still read.
import { join } from 'node:path';
import { invalid } from '../errors.ts';

export const backupFormat = 'holdfast-backup';
export const backupFormatVersion = 3;
/** Format versions this Holdfast reads. */
const readableFormatVersions = [1, 2, 3];

export const manifestName = 'manifest.json';
export const contentsListName = 'contents.ndjson.gz';
export const poolDirName = 'blobs';

/** A table's file and what it holds. */
export interface TableEntry {
  name: string;
  /** Relative to the backup's directory; for a table in segments, its first segment's (or none). */
  file: string;
  columns: string[];
  rows: number;
  /** A large table's segments, shared with other backups in the same place (table-segments.ts). */
  segments?: { file: string; from: number | null; to: number | null; rows: number }[];
}

/** The files holding a table's rows, in order. */
export function tableFiles(table: TableEntry): string[] {
  return table.segments ? table.segments.map((s) => s.file) : [table.file];
}

/** A file of the backup and its SHA-256 (of the bytes on disk). */
export interface FileEntry {
  sha256: string;
  bytes: number;
}

export interface BackupManifest {
  format: typeof backupFormat;
  formatVersion: number;
  id: string;
  /** When the snapshot was taken (epoch ms). */
  createdAt: number;
  finishedAt: number;
  holdfastVersion: string;
  schemaVersion: number;
  dialect: 'sqlite' | 'postgres';
  /** Where it was taken, without a password. */
  source: string;
  /** In the order a restore loads them (a table after those it refers to). */
  tables: TableEntry[];
  contents: {
    file: string;
    count: number;
    /** Uncompressed bytes of all contents. */
    bytes: number;
    /** Contents the snapshot referred to that the store did not have (lost before this backup). */
    missing: string[];
  };
  /** Every file of the backup's directory except the manifest, by relative path. */
  files: Record<string, FileEntry>;
}

/** Where format 1 kept a content in the pool of `to`. */
export function poolPath(to: string, hash: string): string {
  return join(to, poolDirName, hash.slice(0, 2), hash.slice(2, 4), `${hash}.gz`);
}

export const tableFile = (table: string) => `tables/${table}.ndjson.gz`;

/**
 * Values as JSON: numbers, strings and null as they are; bytes as {"$b64": "…"} (no table holds
 * bytes today but the blob tables, which are not dumped; a future one is carried all the same).
 */
export function encodeValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value).toString('base64') };
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

export function decodeValue(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && '$b64' in value)
    return new Uint8Array(Buffer.from(String((value as { $b64: unknown }).$b64), 'base64'));
  return value;
}

/** A backup id from its time: sortable, readable, safe as a directory name. */
export function backupId(at: number): string {
  return `backup-${new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export const isBackupId = (name: string) => /^backup-\d{8}T\d{6}Z(-\d+)?$/.test(name);

/** Checks what the manifest says about itself; names the problem. */
export function checkManifest(value: unknown, where: string): BackupManifest {
  const manifest = value as Partial<BackupManifest> | null;
  if (!manifest || typeof manifest !== 'object' || manifest.format !== backupFormat)
    throw invalid('backup-not-a-backup', `${where} is not a Holdfast backup manifest (no "format": "${backupFormat}")`);
  if (!readableFormatVersions.includes(Number(manifest.formatVersion)))
    throw invalid(
      'backup-format-version',
      `${where} has backup format version ${manifest.formatVersion}; this Holdfast reads versions ${readableFormatVersions.join(' and ')}`,
    );
  for (const field of ['id', 'createdAt', 'schemaVersion', 'dialect', 'tables', 'contents', 'files'] as const)
    if (manifest[field] === undefined)
      throw invalid('backup-manifest-incomplete', `${where} has no "${field}": the manifest is damaged`);
  return manifest as BackupManifest;
}
