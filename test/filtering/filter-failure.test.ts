// When a scanner is down or hangs: fail_open (the default) accepts the message, marks it "not
// scanned" and service health reports the Filtering component; fail_closed answers 451 4.7.1. The
// health checks probe both engines: healthy against the real ones, failing against a closed port.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileSchema, filteringSettings } from '../../src/config/schema.ts';
import { checkFilters } from '../../src/health/checks/filter-check.ts';
import type { ProbeContext } from '../../src/health/checks/probe-context.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { freePort, startEngines, mxClient } from './scan-engines.ts';

const password = 'Wonderland-42';
const engines = await startEngines();
after(() => engines.stop());

/** A server that takes connections and never answers: a hung scanner. */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port, sockets };
}

async function nodeWith(filtering: string): Promise<TestNode> {
  const t = await startTestNode('sqlite', { toml: `[filtering]\n${filtering}\n` });
  const tenant = await t.node.holdfast.directory.tenant('default');
  await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
  return t;
}

const context = (): ProbeContext => ({
  node: 'node-a',
  db: undefined as never,
  settings: undefined as never,
  now: Date.now,
  scope: () => ({ tenants: [], forests: [], regions: ['default'], nodes: ['node-a'] }),
});

const filteringOf = (toml: Record<string, string>) =>
  filteringSettings(fileSchema.parse({ filtering: toml }).filtering);

describe('filtering when a scanner fails', () => {
  let closedPort: number;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  before(async () => {
    closedPort = await freePort();
    silent = await silentServer();
  });
  after(() => {
    for (const socket of silent.sockets) socket.destroy();
    silent.server.close();
  });

  it('fail_open: accepts, marks the message "not scanned" and delivers it', async () => {
    const t = await nodeWith(
      `rspamd_url = "http://127.0.0.1:${closedPort}"\nclamd = "127.0.0.1:${silent.port}"\ntimeout = "300ms"`,
    );
    try {
      const info = await mxClient(t).sendMail({
        from: 'friend@remote.example',
        to: 'alice@test.example',
        subject: 'unscanned',
        text: 'hi',
      });
      assert.match(info.response, /^250 /);
      const message = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('unscanned')),
        'the unscanned message in the INBOX',
      );
      assert.match(
        message.text.replace(/\r\n\t/g, ' '),
        /^X-Holdfast-Scan: not scanned by rspamd: rspamd at 127\.0\.0\.1:\d+ could not be reached: ECONNREFUSED;/m,
      );
      assert.match(
        message.text.replace(/\r\n\t/g, ' '),
        /not scanned by clamd: clamd at 127\.0\.0\.1:\d+ gave no answer within 300 ms/,
      );
    } finally {
      await t.stop();
    }
  });

  it('fail_closed: answers 451 4.7.1', async () => {
    const t = await nodeWith(`clamd = "127.0.0.1:${closedPort}"\non_failure = "fail_closed"`);
    try {
      await assert.rejects(
        mxClient(t).sendMail({
          from: 'friend@remote.example',
          to: 'alice@test.example',
          subject: 'deferred',
          text: 'hi',
        }),
        (error: Error & { response?: string }) => {
          assert.equal(
            error.response,
            '451 4.7.1 Message not accepted for now: it could not be scanned (clamd is not answering); try again later',
          );
          return true;
        },
      );
    } finally {
      await t.stop();
    }
  });

  it('service health: an advisory with fail_open, an incident with fail_closed', async () => {
    const open = await checkFilters(
      context(),
      filteringOf({ rspamd_url: `http://127.0.0.1:${closedPort}`, clamd: `127.0.0.1:${closedPort}` }),
    );
    assert.deepEqual(
      open.map((r) => [r.rule, r.component, r.state, r.issue?.classification]),
      [
        ['filter:rspamd@node-a', 'Filtering', 'failing', 'advisory'],
        ['filter:clamav@node-a', 'Filtering', 'failing', 'advisory'],
      ],
    );
    assert.match(open[0]!.detail, /marked "not scanned" \(fail_open\)/);
    const closed = await checkFilters(
      context(),
      filteringOf({ clamd: `127.0.0.1:${closedPort}`, on_failure: 'fail_closed' }),
    );
    assert.equal(closed[0]!.issue?.classification, 'incident');
  });

  it('service health: both real engines answer', { skip: engines.skip }, async () => {
    const results = await checkFilters(
      context(),
      filteringOf({ rspamd_url: engines.rspamd!.url, clamd: `127.0.0.1:${engines.clamd!.port}` }),
    );
    assert.deepEqual(
      results.map((r) => [r.rule, r.state]),
      [
        ['filter:rspamd@node-a', 'healthy'],
        ['filter:clamav@node-a', 'healthy'],
      ],
    );
  });
});
