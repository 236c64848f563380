// The rspamd controller's answers RspamdClient must read as rspamd 3.4 sends them, from a stand-in
// controller on loopback that answers with rspamd's bytes: a learn its learn conditions refuse is
// "204 <reason>" with a JSON body (which HTTP does not allow after 204), and is no failure; fuzzy_add
// of a message with nothing to hash is no failure either, a flag no rule learns is one.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RspamdClient } from '../../src/filtering/rspamd-client.ts';

/** rspamd 3.4's answer, byte for byte but the date. */
function answer(status: string, json: string): string {
  return [
    `HTTP/1.1 ${status}`,
    'Connection: close',
    'Server: rspamd/3.4',
    'Date: Mon, 07 Dec 2026 06:01:04 GMT',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Content-Type: application/json',
    'Cache-Control: no-store',
    '',
    json,
  ].join('\r\n');
}

const answers: Record<string, string> = {
  '/learnspam': answer(
    '204 all learn conditions denied learning spam in default classifier',
    '{"error":"all learn conditions denied learning spam in default classifier"}',
  ),
  '/fuzzyadd': answer(
    '404 No content to generate fuzzy for flag 1',
    '{"error":"No content to generate fuzzy for flag 1"}',
  ),
  '/fuzzydel': answer('404 No fuzzy rules matched for flag 7', '{"error":"No fuzzy rules matched for flag 7"}'),
};

describe("rspamd controller's answers", () => {
  let server: Server;
  let client: RspamdClient;
  before(async () => {
    server = createServer((socket) => {
      let request = '';
      socket.on('data', (data) => {
        request += data.toString('latin1');
        const end = request.indexOf('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(request)?.[1] ?? 0);
        if (end >= 0 && request.length >= end + 4 + length)
          socket.end(answers[request.split(' ')[1]!] ?? answer('500 Internal Server Error', '{}'));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new RspamdClient({ controllerUrl: new URL(`http://127.0.0.1:${port}`), timeoutMs: 5000 });
  });
  after(() => server.close());

  const message = Buffer.from('From: a@example.com\r\nSubject: Hi\r\n\r\nHello\r\n');

  it('takes a learn its learn conditions refuse (204 with a body) as answered', async () => {
    await client.learn('spam', message);
  });

  it('takes a message with nothing to hash as no failure, a flag no rule learns as one', async () => {
    assert.equal(await client.fuzzyAdd(message, 1, 5), false);
    await assert.rejects(client.fuzzyDelete(message, 7), /rspamd answered \/fuzzydel with 404: .*flag 7/);
  });
});
