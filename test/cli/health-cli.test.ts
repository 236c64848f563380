// `holdfast health` as an administrator runs it next to a running server: store latency, which
// configured listeners accept connections, and the queue.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/backends.ts';
import { loopbackEnv, runHoldfast, startHoldfast } from '../helpers/cli.ts';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('holdfast health', () => {
  it('reports the store, the listeners that accept connections, and the queue', async () => {
    const [imap, http] = [await freePort(), await freePort()];
    const env = loopbackEnv(await tempDir(), {
      HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      HOLDFAST_IMAP_PORT: String(imap),
      HOLDFAST_HTTP_PORT: String(http),
      ...Object.fromEntries(
        ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAPS', 'POP3', 'POP3S', 'HTTPS', 'MANAGESIEVE'].map((n) => [
          `HOLDFAST_${n}_PORT`,
          'off',
        ]),
      ),
    });
    const server = await startHoldfast(env, ['--roles', 'imap,http']);
    try {
      const result = await runHoldfast(['health', '--json'], { env });
      assert.equal(result.code, 0, result.stderr);
      const health = JSON.parse(result.stdout);
      assert.equal(health.store.status, 'ok');
      const status = Object.fromEntries(
        health.listeners.map((l: { name: string; status: string }) => [l.name, l.status]),
      );
      assert.deepEqual(status, {
        smtp: 'off',
        submission: 'off',
        submissions: 'off',
        imap: 'accepting',
        imaps: 'off',
        pop3: 'off',
        pop3s: 'off',
        http: 'accepting',
        https: 'off',
        managesieve: 'off',
      });
      assert.deepEqual(health.queue, { queued: 0, inFlight: 0, deferred: 0, oldestAgeSeconds: 0 });
    } finally {
      await server.stop();
    }
    const after = await runHoldfast(['health'], { env });
    assert.match(after.stdout, /^store: ok \(\d+(\.\d+)? ms\)$/m);
    assert.match(after.stdout, /imap \d+ refused/);
    assert.match(after.stdout, /^not accepting: imap, http \(is the server running with these roles\?\)$/m);
  });
});

describe('holdfast health open --help', () => {
  it('names every component an issue can be opened on, Nodes included', async () => {
    const result = await runHoldfast(['health', 'open', '--help'], { env: loopbackEnv(await tempDir()) });
    assert.equal(result.code, 0, result.stderr);
    const listed = result.stdout.replace(/\s+/g, ' ');
    for (const id of ['SmtpIntake', 'CalDav', 'Directory', 'Nodes']) assert.ok(listed.includes(id), id);
  });
});
