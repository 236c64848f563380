import assert from 'node:assert/strict';
import { chmod, lstat, readdir, readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { backendNames, createBackend, skipFor, tempDir } from '../helpers/backends.ts';
import { loopbackEnv, runHoldfast, startHoldfast } from '../helpers/cli.ts';
import { openStore } from '../../src/store/store.ts';

function httpsGet(port: number, path: string): Promise<{ status: number; body: string; cert: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      let body = '';
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw;
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, cert }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every file and directory under `root` (itself as ''), with its permission bits. */
async function modes(root: string): Promise<[path: string, mode: number, directory: boolean][]> {
  const found: [string, number, boolean][] = [];
  const visit = async (relative: string) => {
    const stats = await lstat(join(root, relative));
    found.push([relative, stats.mode & 0o777, stats.isDirectory()]);
    if (stats.isDirectory()) for (const name of await readdir(join(root, relative))) await visit(join(relative, name));
  };
  await visit('');
  return found;
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });

for (const name of backendNames) {
  describe(`holdfast start on ${name}`, { skip: skipFor(name) }, () => {
    it('bootstraps, serves HTTP and HTTPS, and shuts down cleanly on SIGTERM', async () => {
      const backend = await createBackend(name);
      const server = await startHoldfast(loopbackEnv(backend.dataDir, { HOLDFAST_DATABASE_URL: backend.databaseUrl }));
      try {
        assert.equal(server.summary.bootstrap.created, true);
        assert.equal(server.summary.bootstrap.adminAddress, 'admin@test.example');
        assert.match(server.summary.bootstrap.generatedPassword!, /^\S{20}$/);

        const ready = await fetch(`http://127.0.0.1:${server.port('http')}/health/ready`);
        assert.equal(ready.status, 200);
        assert.equal((await ready.json()).store.status, 'ok');

        const secure = await httpsGet(server.port('https'), '/health/live');
        assert.equal(secure.status, 200);
        const cert = new X509Certificate(secure.cert);
        assert.match(cert.subject, /CN=mail\.test\.example/);
        assert.ok(cert.checkHost('mail.test.example'));
        // The self-signed certificate is kept in the data dir for the next start.
        const saved = new X509Certificate(await readFile(join(backend.dataDir, 'tls', 'mail.test.example.crt')));
        assert.equal(saved.fingerprint256, cert.fingerprint256);

        const ports = server.summary.listeners.map((l) => l.port);
        assert.equal(await server.stop('SIGTERM'), 0);
        for (const port of ports) assert.ok(await refused(port), `port ${port} closed after shutdown`);
        assert.match(server.stderr(), /"msg":"stopped"/);
      } finally {
        server.child.kill('SIGKILL');
        await backend.cleanup();
      }
    });

    it('keeps the data dir for its own user only, and tightens what an older version left open', async () => {
      const backend = await createBackend(name);
      const env = loopbackEnv(backend.dataDir, { HOLDFAST_DATABASE_URL: backend.databaseUrl });
      try {
        await (await startHoldfast(env)).stop();
        const created = await modes(backend.dataDir);
        assert.ok(
          created.some(([path]) => path.endsWith('.key')) && created.some(([path]) => path.endsWith('.crt')),
          'the TLS key and certificate are there',
        );
        if (name === 'sqlite') assert.ok(created.some(([path]) => path === 'holdfast.sqlite'));
        for (const [path, mode, directory] of created)
          assert.equal(mode, directory ? 0o700 : 0o600, `${path || 'the data dir'} is ${mode.toString(8)}`);

        // As an older Holdfast left them: files 0644 in 0755 directories.
        for (const [path, , directory] of created) await chmod(join(backend.dataDir, path), directory ? 0o755 : 0o644);
        const server = await startHoldfast(env);
        await server.stop();
        const said = server
          .stderr()
          .split('\n')
          .filter((line) => line.includes('private to Holdfast'));
        assert.equal(said.length, 1, 'said once');
        assert.match(said[0]!, new RegExp(`made ${created.length} files and directories in the data dir private`));
        for (const [path, mode, directory] of await modes(backend.dataDir))
          assert.equal(mode, directory ? 0o700 : 0o600, `${path || 'the data dir'} is ${mode.toString(8)}`);
      } finally {
        await backend.cleanup();
      }
    });

    it('refuses to start on a database with a newer schema', async () => {
      const backend = await createBackend(name);
      try {
        const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
        await store.db.insertInto('holdfast_schema').values({ version: 999, name: 'future', applied_at: 0 }).execute();
        await store.close();
        const result = await runHoldfast(['start'], {
          env: loopbackEnv(backend.dataDir, { HOLDFAST_DATABASE_URL: backend.databaseUrl }),
        });
        assert.equal(result.code, 1);
        assert.match(
          result.stderr,
          /holdfast: the database schema is version 999 but this Holdfast knows only up to version \d+/,
        );
      } finally {
        await backend.cleanup();
      }
    });
  });
}

describe('holdfast start refusals', () => {
  it('names the configuration key, value and what is allowed', async () => {
    const result = await runHoldfast(['start'], { env: loopbackEnv(await tempDir(), { HOLDFAST_IMAP_PORT: 'imap' }) });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'holdfast: HOLDFAST_IMAP_PORT = "imap" is not allowed: expected a port number from 0 to 65535 (0 picks a free port), or "off"',
    );
  });

  it('says which port is taken and how to choose another', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runHoldfast(['start'], {
        env: loopbackEnv(await tempDir(), { HOLDFAST_HTTP_PORT: String(port) }),
      });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(
          `holdfast: HOLDFAST_HTTP_PORT = ${port}: port ${port} on 127\\.0\\.0\\.1 is already in use by another program; stop that program, or set HOLDFAST_HTTP_PORT to a free port \\(or "off" to disable the http listener\\)`,
        ),
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses unknown roles', async () => {
    const result = await runHoldfast(['start', '--roles', 'http,fax'], { env: loopbackEnv(await tempDir()) });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /holdfast: --roles = "http,fax" is not allowed: expected a comma-separated list of: smtp, imap, queue, http/,
    );
  });

  it('turns a listener off with "off"', async () => {
    const server = await startHoldfast(loopbackEnv(await tempDir(), { HOLDFAST_HTTPS_PORT: 'off' }));
    try {
      assert.deepEqual(
        server.summary.listeners.map((l) => l.name),
        ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'managesieve', 'http'],
      );
    } finally {
      assert.equal(await server.stop('SIGINT'), 0);
    }
  });
});
