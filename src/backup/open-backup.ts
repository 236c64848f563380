// Reading a backup: its manifest, each table's rows (streamed, values as the database gives them)
// and its contents from the pool. Used by restore and verify, and by partial restore, which takes
// one tenant, user or folder out of a backup without loading anything else.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { invalid, notFound } from '../errors.ts';
import {
  checkManifest,
  decodeValue,
  manifestName,
  tableFiles,
  type BackupManifest,
  type TableEntry,
} from './backup-format.ts';
import { ContentPool, type PooledContent } from './content-pool.ts';
import { hashFile } from './durable-files.ts';
import { readNdjson } from './ndjson-files.ts';

export interface OpenedBackup {
  dir: string;
  /** The directory holding the content pool (the backup's parent). */
  to: string;
  manifest: BackupManifest;
  /** The rows of a table as records; a table the backup does not hold yields nothing. */
  rows(table: string): AsyncIterable<Record<string, unknown>>;
  /** The same rows as arrays in the order of `columns`, in batches. */
  rowBatches(table: string): AsyncIterable<unknown[][]>;
  /** [hash, size] of every content in the backup. */
  contents(): AsyncIterable<{ hash: string; size: number }>;
  /** A content's bytes, uncompressed. */
  openBlob(hash: string): Readable;
  /**
   * Every content of the backup with its bytes, in the order the pool reads fastest (content-pool.ts);
   * with `lent`, each one's bytes are valid only until the next is asked for.
   */
  readContents(options?: { lent?: boolean }): AsyncIterable<PooledContent>;
  /** The target's content pool (its index read on first use). */
  pool(): Promise<ContentPool>;
  /** Files that are missing or differ from the manifest (size, SHA-256); none when intact. */
  fileProblems(): Promise<string[]>;
  /** Throws, naming the first problem, unless every file is as the manifest says. */
  checkFiles(): Promise<void>;
  close(): Promise<void>;
}

export async function openBackup(dir: string): Promise<OpenedBackup> {
  const path = resolve(dir);
  const manifestPath = join(path, manifestName);
  const text = await readFile(manifestPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT')
      throw notFound(
        'backup-not-found',
        `no ${manifestName} in ${path}: not a Holdfast backup, or one that did not finish (name a directory "backup list" shows)`,
      );
    throw invalid('backup-unreadable', `cannot read ${manifestPath}: ${error.message}`);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('backup-manifest-damaged', `${manifestPath} is not valid JSON: the manifest is damaged`);
  }
  const manifest = checkManifest(parsed, manifestPath);
  const to = dirname(path);
  const entry = (table: string): TableEntry | undefined => manifest.tables.find((t) => t.name === table);
  let opened: Promise<ContentPool> | undefined;
  const pool = () => {
    opened ??= ContentPool.open(to);
    return opened;
  };

  async function* rowBatches(table: string): AsyncIterable<unknown[][]> {
    const found = entry(table);
    if (!found) return;
    for (const file of tableFiles(found)) yield* fileRows(found, file);
  }

  async function* fileRows(found: TableEntry, name: string): AsyncIterable<unknown[][]> {
    const table = found.name;
    const file = join(path, name);
    let first = true;
    try {
      for await (const lines of readNdjson(file)) {
        const rows: unknown[][] = [];
        for (const line of lines) {
          if (first) {
            first = false;
            const header = line as { table?: string; columns?: string[] };
            if (header.table !== table || JSON.stringify(header.columns) !== JSON.stringify(found.columns))
              throw new Error('its first line does not name the table and columns the manifest lists');
            continue;
          }
          if (!Array.isArray(line) || line.length !== found.columns.length)
            throw new Error(
              `a row has ${Array.isArray(line) ? line.length : 'no'} values for ${found.columns.length} columns`,
            );
          // Decoded in place: the parsed line is this row's own array.
          for (let i = 0; i < line.length; i++) line[i] = decodeValue(line[i]);
          rows.push(line);
        }
        if (rows.length > 0) yield rows;
      }
      if (first) throw new Error('it is empty');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT')
        throw notFound('backup-file-missing', `${name} of backup ${manifest.id} is missing (${file})`);
      if (error instanceof Error && !('kind' in error))
        throw invalid('backup-file-damaged', `${name} of backup ${manifest.id} is damaged: ${error.message}`);
      throw error;
    }
  }

  async function* contents() {
    const file = join(path, manifest.contents.file);
    try {
      for await (const lines of readNdjson(file))
        for (const line of lines) {
          const [hash, size] = line as [string, number];
          yield { hash, size };
        }
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT')
        throw notFound('backup-file-missing', `${manifest.contents.file} of backup ${manifest.id} is missing`);
      throw invalid(
        'backup-file-damaged',
        `${manifest.contents.file} of backup ${manifest.id} is damaged: ${(error as Error).message}`,
      );
    }
  }

  return {
    dir: path,
    to,
    manifest,
    rowBatches,
    contents,
    pool,
    async *rows(table) {
      const columns = entry(table)?.columns ?? [];
      for await (const batch of rowBatches(table))
        for (const values of batch) yield Object.fromEntries(columns.map((column, i) => [column, values[i]]));
    },
    openBlob(hash) {
      const out = new PassThrough();
      pool().then(
        (p) =>
          p
            .open(hash)
            .on('error', (error) => out.destroy(error))
            .pipe(out),
        (error) => out.destroy(error),
      );
      return out;
    },
    async *readContents(options) {
      const hashes: string[] = [];
      for await (const { hash } of contents()) hashes.push(hash);
      yield* (await pool()).read(hashes, options);
    },
    fileProblems: () => fileProblems(path, manifest),
    async checkFiles() {
      const problems = await fileProblems(path, manifest);
      if (problems.length > 0)
        throw invalid(
          'backup-damaged',
          `backup ${manifest.id} is damaged: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''}; "holdfast backup verify ${path}" lists them`,
        );
    },
    close: async () => {},
  };
}

async function fileProblems(dir: string, manifest: BackupManifest): Promise<string[]> {
  const problems: string[] = [];
  for (const [file, expected] of Object.entries(manifest.files)) {
    const actual = await hashFile(join(dir, file)).catch((error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? undefined : Promise.reject(error),
    );
    if (!actual) problems.push(`${file} is missing`);
    else if (actual.bytes !== expected.bytes)
      problems.push(`size mismatch in ${file}: ${actual.bytes} bytes, the manifest says ${expected.bytes}`);
    else if (actual.sha256 !== expected.sha256) problems.push(`hash mismatch in ${file}`);
  }
  return problems;
}
