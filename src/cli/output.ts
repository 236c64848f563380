// How every command reports: a readable text for people, or with --json one JSON document on stdout
// that scripts can rely on. Errors are one line on stderr (or a JSON error object) and exit code 1.
import { HoldfastError } from '../errors.ts';
import { ConfigError } from '../config/load.ts';
import { isoTime } from '../health/issue-posts.ts';

export interface OutputOptions {
  json?: boolean;
}

export function print(options: OutputOptions, data: unknown, text: () => string) {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${text()}\n`);
}

export function reportError(error: unknown, json: boolean): number {
  const system = systemError(error);
  const known = error instanceof HoldfastError || error instanceof ConfigError || system !== undefined;
  const code =
    error instanceof HoldfastError
      ? error.code
      : error instanceof ConfigError
        ? 'invalid-configuration'
        : system
          ? system.code.toLowerCase()
          : 'internal-error';
  const message = system
    ? system.text
    : known
      ? (error as Error).message
      : `unexpected error: ${(error as Error)?.stack ?? String(error)}`;
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`holdfast: ${message}\n`);
  return 1;
}

/** What the system says about a path it refused (a directory that is a file, one that does not exist…). */
const systemReasons: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'it exists already (a file where a directory was expected?)',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  ENOTEMPTY: 'the directory is not empty',
};

/**
 * A file system error is about the administrator's paths, not a bug: one line naming the path and
 * the reason ("cannot mkdir /srv/exports/.alice.partial-…: no such file or directory").
 */
function systemError(error: unknown): { code: string; text: string } | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (!e || typeof e.code !== 'string' || !(e.code in systemReasons) || typeof e.path !== 'string') return undefined;
  return { code: e.code, text: `cannot ${e.syscall ?? 'use'} ${e.path}: ${systemReasons[e.code]}` };
}

/** A time as every command prints it: ISO 8601 in UTC to the second (2026-12-05T21:30:00Z), like the health API. */
export function timeText(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : isoTime(ms);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  if (rows.length === 0) return '(none)';
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
