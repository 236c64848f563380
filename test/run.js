#!/usr/bin/env node
// Runs the whole suite with Node's test runner (which on Node 20 does not expand globs itself).
// The TAP summary lines ("# pass N", "# fail N") are what CI reads.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

const only = process.argv.slice(2);
const files = only.length ? only : findTests('test');
if (!process.env.HOLDFAST_TEST_DATABASE_URL) {
  console.log(
    '# PostgreSQL tests skipped: set HOLDFAST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to run them',
  );
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-timeout=300000', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
