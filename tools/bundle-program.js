#!/usr/bin/env node
// Bundles the compiled program (dist/, from `tsc`) into dist/program/, which bin/holdfast.js runs:
// main.js and a chunk per part loaded on demand (each command group, cli/program.ts). Bundled with
// it are the two libraries made of many small modules, Kysely (about 300) and zod (about 60): loaded
// file by file they were about 100 ms of every command's start. Every other package stays in
// node_modules, loaded as it is. `npm run build` runs this after tsc.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bundled = new Set(['kysely', 'zod']);
const out = join(root, 'dist', 'program');
// Built beside it and put in its place at once: a command starting meanwhile (a scheduled backup,
// a restarted worker) finds the old bundle or the new one, never half of one.
const building = `${out}.building-${process.pid}`;
const old = `${out}.old-${process.pid}`;

rmSync(building, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/main.js' },
  outdir: building,
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(manifest.dependencies).filter((name) => !bundled.has(name)),
  // Class and function names stay as written: errors and logs name them.
  keepNames: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
try {
  renameSync(out, old);
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
renameSync(building, out);
rmSync(old, { recursive: true, force: true });
