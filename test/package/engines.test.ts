// Every package `npm install` puts in place accepts the Node versions package.json promises, so a
// fresh install prints no EBADENGINE warning and nothing needs a newer Node than we say.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));

describe('Node versions', () => {
  it('every locked package supports the Node versions package.json names', () => {
    const promised: string = read('package.json').engines.node;
    // The lowest promised version, the start of the next line, and the one running the tests.
    const versions = [semver.minVersion(promised)!.version, '22.0.0', process.versions.node].filter((v) =>
      semver.satisfies(v, promised),
    );
    const refusals: string[] = [];
    for (const [path, entry] of Object.entries(
      read('package-lock.json').packages as Record<string, { version?: string; engines?: { node?: string } }>,
    )) {
      const wanted = entry.engines?.node;
      if (!path || !wanted) continue;
      const refused = versions.filter((v) => !semver.satisfies(v, wanted));
      if (refused.length)
        refusals.push(
          `${path.replace(/^.*node_modules\//, '')}@${entry.version} wants Node ${wanted}, not ${refused.join(', ')}`,
        );
    }
    assert.deepEqual(refusals, []);
  });
});
