// The workers of `holdfast start --workers 2` (the real program, its own processes) are nodes of
// their own: each registers with its pid, `holdfast cluster status` lists both on one host, and each
// singleton runs in exactly one of them. A worker killed with SIGKILL is not left as a silent node:
// once silent its sibling marks it stopped (its pid is gone from this host), and the worker started
// in its place registers anew. Time bounds are hang detectors, not measurements.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backendNames, createBackend, skipFor, type TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';

interface StatusNode {
  id: string;
  host: string;
  pid: number;
  state: string;
  singletons: string[];
}

async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const name of backendNames) {
  describe(`workers as nodes on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    let server: StartedServer;
    const status = async (): Promise<StatusNode[]> => {
      const result = await runHoldfast(['cluster', 'status', '--json'], { env });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout).nodes;
    };
    const running = async () => (await status()).filter((n) => n.state === 'running');
    /** The running nodes once they are exactly `pids` and every singleton is held by one of them. */
    const settled = (pids: () => number[]) =>
      waitUntil('the workers registered, holding each singleton once', async () => {
        const nodes = await running();
        const held = nodes.flatMap((n) => n.singletons).sort();
        const wanted = [...pids()].sort();
        return (
          nodes.length === wanted.length &&
          JSON.stringify(nodes.map((n) => n.pid).sort()) === JSON.stringify(wanted) &&
          JSON.stringify(held) === JSON.stringify(['delay-notices', 'housekeeping']) &&
          nodes
        );
      });

    before(async () => {
      backend = await createBackend(name);
      const config = join(backend.dataDir, 'cluster.toml');
      await writeFile(config, '[cluster]\nheartbeat = "200ms"\nlease = "1s"\n');
      env = loopbackEnv(backend.dataDir, {
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
        HOLDFAST_CONFIG: config,
      });
      await initHoldfast(env);
      server = await startHoldfast(env, ['--workers', '2']);
    });
    after(async () => {
      if (server.child.exitCode === null) await server.stop('SIGKILL');
      await backend.cleanup();
    });

    it('lists each worker as a node of this host, each singleton held by one of them', async () => {
      const workers = server.summary.workers as number[];
      const nodes = await settled(() => workers);
      assert.ok(nodes.every((n) => n.host === hostname()));
      assert.equal(new Set(nodes.map((n) => n.id)).size, 2, 'one node id per process');
    });

    it('marks a killed worker stopped and registers the one started in its place', async () => {
      const before = await running();
      const killed = before[0]!;
      process.kill(killed.pid, 'SIGKILL');
      const after = await waitUntil('the killed worker marked stopped and replaced', async () => {
        const nodes = await status();
        const gone = nodes.find((n) => n.id === killed.id);
        const live = nodes.filter((n) => n.state === 'running');
        return gone?.state === 'stopped' && live.length === 2 && !live.some((n) => n.pid === killed.pid) && live;
      });
      await settled(() => after.map((n) => n.pid));
      assert.ok(!(await status()).some((n) => n.state === 'silent'), 'no node left silent');
    });

    it('marks every worker stopped on SIGTERM', async () => {
      assert.equal(await server.stop('SIGTERM'), 0);
      const nodes = await status();
      assert.ok(nodes.length >= 3);
      assert.ok(
        nodes.every((n) => n.state === 'stopped'),
        JSON.stringify(nodes),
      );
    });
  });
}
