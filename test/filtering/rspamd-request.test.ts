// What Holdfast tells rspamd about a message from another server (the /checkv2 request headers),
// seen by a recording relay in front of a real rspamd: the client's forward-confirmed host name
// (PTR, then an A record naming the address again) as Hostname, "[address]" when it has none that
// is confirmed or its PTR query is never answered, and the recipients as the client gave them in
// RCPT TO (an alias, not the mailbox it reaches), which rspamd compares with To and Cc; our Received
// line names the client as rspamd is told. DNS from the test's stub. Both backends.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor, type BackendName } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { freePort, mxClient, startEngines } from './scan-engines.ts';

const engines = await startEngines();
after(() => engines.stop());

/** Requests to rspamd, recorded and passed on to it; its answers passed back. */
async function recordingRelay(target: string) {
  const seen: { hostname?: string; ip?: string; rcpt: string[]; from?: string }[] = [];
  const server: Server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, values] of Object.entries(request.headersDistinct))
      if (!['host', 'connection', 'content-length', 'transfer-encoding'].includes(name))
        for (const value of values ?? []) headers.append(name, value);
    seen.push({
      hostname: request.headers.hostname as string | undefined,
      ip: request.headers.ip as string | undefined,
      rcpt: request.headersDistinct.rcpt ?? [],
      from: request.headers.from as string | undefined,
    });
    const answer = await fetch(new URL(request.url!, target), {
      method: request.method,
      headers,
      body: request.method === 'POST' ? Buffer.concat(chunks) : undefined,
    });
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * A node on `backend` whose requests to rspamd go through a recording relay, with alice to deliver
 * to (and sales@ as her alias); set up before the suite's tests (each suite its own: answers of the
 * DNS stub are cached for a minute, so one suite's PTR would hide the next one's).
 */
function relayedNode(backend: BackendName) {
  const node = {} as { t: TestNode; relay: Awaited<ReturnType<typeof recordingRelay>> };
  before(async () => {
    node.relay = await recordingRelay(engines.rspamd!.url);
    node.t = await startTestNode(backend, { toml: `[filtering]\nrspamd_url = "${node.relay.url}"\n` });
    const tenant = await node.t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password: 'Wonderland-42' });
    await tenant.addAlias('sales@test.example', 'alice@test.example');
  });
  after(async () => {
    await node.t?.stop();
    await node.relay?.close();
  });
  return node;
}

for (const name of backendNames) {
  describe(`what rspamd is told on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    const node = relayedNode(name);

    it('names a client whose PTR is confirmed by its A record, and the recipients as given', async () => {
      const { t, relay } = node;
      t.dns.set('1.0.0.127.in-addr.arpa', { PTR: ['mx1.remote.example'] });
      t.dns.set('mx1.remote.example', { A: ['127.0.0.1'] });
      await mxClient(t).sendMail({
        from: 'news@remote.example',
        to: 'sales@test.example',
        subject: 'to an alias',
        text: 'Hello',
      });
      const request = relay.seen.at(-1)!;
      assert.equal(request.hostname, 'mx1.remote.example');
      assert.equal(request.ip, '127.0.0.1');
      assert.deepEqual(request.rcpt, ['sales@test.example']);
      const stored = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('to an alias')),
        "the message in alice's INBOX",
      );
      // Our Received line names the client by its confirmed name too, as Postfix's does.
      assert.match(stored.text, /^Received: from \S+ \(mx1\.remote\.example \[127\.0\.0\.1\]\)\r\n\tby /m);
    });
  });

  describe(`a client without a confirmed name on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    const node = relayedNode(name);

    it('sends the address in brackets when the PTR name does not lead back to it', async () => {
      const { t, relay } = node;
      // The PTR names a host whose A record is another address: not confirmed.
      t.dns.set('1.0.0.127.in-addr.arpa', { PTR: ['forged.remote.example'] });
      t.dns.set('forged.remote.example', { A: ['192.0.2.7'] });
      await mxClient(t).sendMail({ from: 'x@remote.example', to: 'alice@test.example', subject: 's', text: 'Hi' });
      assert.equal(relay.seen.at(-1)!.hostname, '[127.0.0.1]');
      const stored = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Hi')),
        "the message in alice's INBOX",
      );
      assert.match(stored.text, /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby /m);
    });
  });

  describe(`a client whose PTR query is never answered on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    const node = relayedNode(name);

    it('accepts the message within the lookup bound and names the client by its address alone', async () => {
      const { t, relay } = node;
      // A DNS server that never replies for the reverse name: the lookup is cut off by intake's 3 s
      // bound, well before the resolver's own timeouts, and the client counts as one without a name.
      t.dns.dropped.add('1.0.0.127.in-addr.arpa');
      const send = async (subject: string) => {
        const started = Date.now();
        const info = await mxClient(t).sendMail({
          from: 'x@remote.example',
          to: 'alice@test.example',
          subject,
          text: subject,
        });
        const seconds = (Date.now() - started) / 1000;
        assert.match(info.response, /^250 /);
        assert.ok(seconds < 10, `accepted after ${seconds} s`);
      };
      await send('unanswered PTR, first');
      assert.ok(t.dns.questions.includes('PTR 1.0.0.127.in-addr.arpa'), 'the PTR was asked');
      assert.equal(relay.seen.at(-1)!.hostname, '[127.0.0.1]');
      const stored = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('unanswered PTR, first')),
        "the message in alice's INBOX",
      );
      assert.match(stored.text, /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby /m);
      // The server goes on serving: the next connection, asking the same unanswered name, is accepted too.
      await send('unanswered PTR, second');
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('unanswered PTR, second')),
        "the second message in alice's INBOX",
      );
    });
  });
}
