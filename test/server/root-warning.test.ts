// Started as root, Holdfast warns and says how to run it unprivileged (it does not switch users itself).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rootWarning } from '../../src/server/root-warning.ts';
import { tempDir } from '../helpers/backends.ts';
import { loopbackEnv, startHoldfast } from '../helpers/cli.ts';

describe('running as root', () => {
  it('warns as root only, with the way out that fits how it was started', () => {
    assert.equal(rootWarning(1000, {}), undefined);
    assert.equal(rootWarning(undefined, {}), undefined, 'Windows has no uid');
    const plain = rootWarning(0, {})!;
    assert.match(plain, /^Holdfast is running as root, which it does not need/);
    assert.match(
      plain,
      /install contrib\/holdfast\.service .* use the container image \(contrib\/Containerfile\), or start it as another user with ports above 1023/,
    );
    assert.match(
      rootWarning(0, { INVOCATION_ID: 'abc' })!,
      /add User=holdfast, AmbientCapabilities=CAP_NET_BIND_SERVICE .* to this unit/,
    );
  });

  it('logs the warning when the server starts as root', {
    skip: process.getuid?.() !== 0 && 'the tests do not run as root',
  }, async () => {
    const server = await startHoldfast(loopbackEnv(await tempDir(), { INVOCATION_ID: '' }));
    try {
      // Log lines are written asynchronously: the warning may follow the start-up summary.
      const warnings = () =>
        server
          .stderr()
          .split('\n')
          .filter((line) => line.includes('running as root'));
      for (let waited = 0; warnings().length === 0 && waited < 5000; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      const warning = warnings().map((line) => JSON.parse(line));
      assert.equal(warning.length, 1);
      assert.equal(warning[0].level, 40);
      assert.match(warning[0].msg, /Run it as an unprivileged user: install contrib\/holdfast\.service/);
    } finally {
      await server.stop();
    }
  });
});
