// JMAP Core (RFC 8620) over real sockets on each backend: the session resource, the API endpoint
// driven by jmap-jam (the JMAP client from npm) and by plain fetch for what a client would not
// send — result references, method-level errors, request-level errors as problem JSON, limits —
// and signing in through the login limiter the other protocols use.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { BasicJam, basicAuth, postApi } from './jmap-client.ts';
import { password, startJmapNode } from './jmap-test-node.ts';
const core = 'urn:ietf:params:jmap:core';

for (const name of backendNames) {
  describe(`JMAP Core on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    const alice = basicAuth('alice@test.example', password);

    before(async () => {
      ({ t, base } = await startJmapNode(name, ['alice@test.example']));
    });
    after(() => t.stop());

    it('serves the session resource with limits, accounts and URLs', async () => {
      const jam = new BasicJam(`${base}/.well-known/jmap`, 'alice@test.example', password);
      const session = await jam.session;
      const limits = session.capabilities[core] as Record<string, unknown>;
      assert.equal(limits.maxCallsInRequest, 16);
      assert.equal(limits.maxObjectsInGet, 256);
      assert.equal(limits.maxSizeRequest, 2_000_000);
      assert.equal(limits.maxSizeUpload, 50_000_000);
      const account = Object.keys(session.accounts)[0]!;
      // RFC 8621 1.3.1: attachments whose base64 fits in a 50 MB message with 64 KB to spare (0 would
      // tell a client to offer none).
      const mail = session.accounts[account]?.accountCapabilities['urn:ietf:params:jmap:mail'] as Record<
        string,
        unknown
      >;
      assert.equal(mail.maxSizeAttachmentsPerEmail, 36_490_569);
      assert.match(account, /^a[0-9]+$/);
      assert.equal(session.accounts[account]?.name, 'alice@test.example');
      assert.equal(session.username, 'alice@test.example');
      assert.equal(session.apiUrl, `${base}/jmap/api/`);
      assert.equal(session.downloadUrl, `${base}/jmap/download/{accountId}/{blobId}/{name}?type={type}`);
      assert.ok(session.uploadUrl.includes('{accountId}'));
      assert.ok(session.eventSourceUrl.includes('{types}'));
      assert.ok(session.state);
      const response = await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: alice } });
      assert.match(response.headers.get('cache-control') ?? '', /no-store/);
    });

    it('answers Core/echo through jmap-jam, with result references', async () => {
      const jam = new BasicJam(`${base}/.well-known/jmap`, 'alice@test.example', password);
      const [echo] = await jam.request(['Core/echo', { hello: 'world', list: [1, 2] }] as never);
      assert.deepEqual(echo, { hello: 'world', list: [1, 2] });

      const { json } = await postApi(
        base,
        {
          using: [core],
          methodCalls: [
            [
              'Core/echo',
              {
                items: [
                  { id: 'x', n: [1, 2] },
                  { id: 'y', n: [3] },
                ],
                'a/b': { '~c': 7 },
              },
              'c1',
            ],
            ['Core/echo', { '#ids': { resultOf: 'c1', name: 'Core/echo', path: '/items/*/id' } }, 'c2'],
            ['Core/echo', { '#ns': { resultOf: 'c1', name: 'Core/echo', path: '/items/*/n' } }, 'c3'],
            ['Core/echo', { '#escaped': { resultOf: 'c1', name: 'Core/echo', path: '/a~1b/~0c' } }, 'c4'],
            ['Core/echo', { '#bad': { resultOf: 'c1', name: 'Mailbox/get', path: '/items' } }, 'c5'],
            ['Core/echo', { '#bad': { resultOf: 'nope', name: 'Core/echo', path: '/items' } }, 'c6'],
            ['Core/echo', { '#bad': { resultOf: 'c1', name: 'Core/echo', path: '/items/7' } }, 'c7'],
            ['Core/echo', { x: 1, '#x': { resultOf: 'c1', name: 'Core/echo', path: '/items' } }, 'c8'],
            ['Core/echo', { '#deep': { resultOf: 'c1', name: 'Core/echo', path: '/a'.repeat(40) } }, 'c9'],
          ],
        },
        alice,
      );
      const [, c2, c3, c4, c5, c6, c7, c8, c9] = json.methodResponses;
      assert.deepEqual(c2, ['Core/echo', { ids: ['x', 'y'] }, 'c2']);
      assert.deepEqual(c3, ['Core/echo', { ns: [1, 2, 3] }, 'c3'], 'arrays gathered by * are flattened');
      assert.deepEqual(c4, ['Core/echo', { escaped: 7 }, 'c4']);
      for (const call of [c5, c6, c7, c9]) {
        assert.equal(call[0], 'error');
        assert.equal(call[1].type, 'invalidResultReference');
      }
      assert.deepEqual([c8[0], c8[1].type], ['error', 'invalidArguments']);
      assert.ok(json.sessionState);
    });

    it('answers unknown methods and capabilities not in "using" with unknownMethod, and goes on', async () => {
      const { status, json } = await postApi(
        base,
        {
          using: [core],
          methodCalls: [
            ['Foo/bar', {}, 'a'],
            ['Core/echo', { ok: true }, 'b'],
          ],
          createdIds: { k1: 'x' },
        },
        alice,
      );
      assert.equal(status, 200);
      assert.equal(json.methodResponses[0][0], 'error');
      assert.equal(json.methodResponses[0][1].type, 'unknownMethod');
      assert.deepEqual(json.methodResponses[1], ['Core/echo', { ok: true }, 'b']);
      assert.deepEqual(json.createdIds, { k1: 'x' }, 'createdIds are given back when sent');
    });

    it('refuses requests that are not JSON, not requests, over limits or with unknown capabilities (RFC 7807)', async () => {
      const check = async (body: string | object, type: string, limit?: string) => {
        const { status, type: contentType, json } = await postApi(base, body, alice);
        assert.equal(status, 400, type);
        assert.match(contentType ?? '', /^application\/problem\+json/);
        assert.equal(json.type, `urn:ietf:params:jmap:error:${type}`);
        assert.equal(json.status, 400);
        if (limit) assert.equal(json.limit, limit);
      };
      await check('{"using": [', 'notJSON');
      await check('[1, 2]', 'notRequest');
      await check({ using: [core] }, 'notRequest');
      await check({ using: [core], methodCalls: [['Core/echo', [], 'c1']] }, 'notRequest');
      await check({ using: [core, 'urn:example:nothing'], methodCalls: [] }, 'unknownCapability');
      const calls = Array.from({ length: 17 }, (_, i) => ['Core/echo', {}, `c${i}`]);
      await check({ using: [core], methodCalls: calls }, 'limit', 'maxCallsInRequest');
      await check(
        { using: [core], methodCalls: [['Core/echo', { pad: 'x'.repeat(2_100_000) }, 'c']] },
        'limit',
        'maxSizeRequest',
      );
    });

    it('signs in with Basic through the login limiter and refuses other schemes', async () => {
      const bearer = await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: 'Bearer abc' } });
      assert.equal(bearer.status, 401);
      assert.match(bearer.headers.get('www-authenticate') ?? '', /^Basic/);
      const none = await postApi(base, { using: [core], methodCalls: [] }, '');
      assert.equal(none.status, 401);
      for (let i = 0; i < 5; i++) {
        const wrong = await fetch(`${base}/.well-known/jmap`, {
          headers: { Authorization: basicAuth('alice@test.example', `wrong-${i}`) },
        });
        assert.equal(wrong.status, 401);
      }
      const limited = await fetch(`${base}/.well-known/jmap`, {
        headers: { Authorization: alice },
      });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });
  });
}
