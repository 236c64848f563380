// The command line of a benchmark: its own options, plus the ones every bench takes — `--database URL`
// (bench-store.ts) and `--help`, which prints the comment at the top of the bench's file (what it
// measures and how to run it) instead of failing on an unknown option.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

const common = {
  database: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

/** `--workers N` (or auto): Holdfast runs as `holdfast start --workers N`; for the benches that take it. */
export const workersOption = { workers: { type: 'string', default: '1' } } as const;

/** Parses the process's arguments; with --help, prints the usage of the bench at `benchUrl` (its import.meta.url) and exits. */
export function benchArgs<O extends Options>(benchUrl: string, options: O) {
  const parsed = parseArgs({ options: { ...options, ...common } as O & typeof common });
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage(fileURLToPath(benchUrl)));
    process.exit(0);
  }
  return parsed;
}

/** The file's leading `//` comment, without the slashes. */
function usage(file: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const end = lines.findIndex((line) => !line.startsWith('//'));
  return lines
    .slice(0, end)
    .map((line) => line.replace(/^\/\/ ?/, ''))
    .join('\n');
}
