// CardDAV under hostile and large input: no request holds the server's one thread for long. The
// server runs in this process, so the event loop's delay measured here is the server's. Large
// address books and directories are answered, oversized and over-long cards and deep XML are
// refused at once with a precise error, and nothing refused is stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ensureDefaultAddressBook, findAddressBook, writeCard } from '../../src/contacts/address-books.ts';
import { contactsDb } from '../../src/contacts/contacts-tables.ts';
import { maxCardProperties, maxCardSize, parseCard } from '../../src/contacts/vcard.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const cards = 3000;
const directorySize = 400;
/**
 * The longest the event loop may stall during one request: the aim is 100 ms on an idle machine
 * (about 50 ms is measured here then); the margin is for machines busy with other work.
 */
const maxStallMs = 200;

const card = (i: number, extra: string[] = []) =>
  [
    'BEGIN:VCARD',
    'VERSION:3.0',
    `UID:bulk-${i}`,
    `FN:Person ${i}`,
    `N:${i};Person;;;`,
    `EMAIL;TYPE=WORK:person${i}@bulk.example`,
    `TEL;TYPE=CELL:+44 20 ${String(i).padStart(8, '0')}`,
    ...extra,
    'END:VCARD',
    '',
  ].join('\r\n');

for (const name of backendNames) {
  describe(`CardDAV limits on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    const path = '/dav/addressbooks/alice@test.example/contacts/';
    const request = (
      method: string,
      url: string,
      body?: string,
      headers: Record<string, string> = {},
      user = 'alice@test.example',
    ) =>
      fetch(`${base}${url}`, {
        method,
        body,
        headers: {
          Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          'Content-Type': method === 'PUT' ? 'text/vcard' : 'application/xml',
          ...headers,
        },
      });

    /** Runs `work`, returning its result and the longest stall of the event loop meanwhile (ms). */
    async function once<T>(work: () => Promise<T>): Promise<[T, number]> {
      await calm();
      const histogram = monitorEventLoopDelay({ resolution: 5 });
      histogram.enable();
      try {
        const result = await work();
        return [result, histogram.max / 1e6];
      } finally {
        histogram.disable();
      }
    }

    /**
     * The stall of a request that can be repeated: the lower of two runs. The node's own background
     * work (probes, the queue) runs in this process too and may stall one run; a request that holds
     * the thread itself stalls both.
     */
    async function stall<T>(work: () => Promise<T>): Promise<[T, number]> {
      const [result, first] = await once(work);
      if (first < maxStallMs) return [result, first];
      const [, second] = await once(work);
      return [result, Math.min(first, second)];
    }

    /** Waits (up to 10 s) until the event loop has run freely for a quarter of a second. */
    async function calm() {
      for (let tries = 0; tries < 40; tries++) {
        const histogram = monitorEventLoopDelay({ resolution: 5 });
        histogram.enable();
        await new Promise((resolve) => setTimeout(resolve, 250));
        histogram.disable();
        if (histogram.max / 1e6 < 30) return;
      }
    }

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const tenant = await t.node.holdfast.directory.tenant('default');
      const alice = await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      for (let i = 0; i < directorySize; i++)
        await tenant.addPrincipal({ kind: 'shared', address: `desk${i}@test.example`, displayName: `Desk ${i}` });
      // A second tenant as large, so that a first listing of a directory can be measured twice.
      await t.node.holdfast.directory.addTenant({ name: 'second' });
      const second = await t.node.holdfast.directory.tenant('second');
      await second.addDomain('second.example');
      await second.addPrincipal({ kind: 'user', address: 'carol@second.example', password });
      for (let i = 0; i < directorySize; i++)
        await second.addPrincipal({ kind: 'shared', address: `desk${i}@second.example`, displayName: `Desk ${i}` });
      const db = t.node.holdfast.store.db;
      await ensureDefaultAddressBook(db, alice, Date.now());
      const book = (await findAddressBook(db, alice.id, 'contacts'))!;
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < cards; i++)
          await writeCard(contactsDb(trx), book, `bulk-${i}.vcf`, card(i), parseCard(card(i)), {}, Date.now());
      });
    });
    after(() => t.stop());

    it('answers queries, listings and syncs of a large address book without stalling', async () => {
      const [query, queryStall] = await stall(async () => {
        const response = await request(
          'REPORT',
          path,
          '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><C:filter test="allof"><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">7@bulk.example</C:text-match></C:prop-filter><C:prop-filter name="TEL"/></C:filter></C:addressbook-query>',
          { Depth: '1' },
        );
        return response.text();
      });
      assert.equal([...query.matchAll(/<D:response>/g)].length, cards / 10);
      assert.ok(queryStall < maxStallMs, `addressbook-query stalled the loop ${queryStall} ms`);

      // What clients list an address book with (vdirsyncer, DAVx5): names, types and ETags.
      const [listing, listingStall] = await stall(async () =>
        (
          await request(
            'PROPFIND',
            path,
            '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontenttype/><D:getetag/></D:prop></D:propfind>',
            { Depth: '1' },
          )
        ).text(),
      );
      assert.equal([...listing.matchAll(/<D:response>/g)].length, cards + 1);
      assert.ok(listingStall < maxStallMs, `PROPFIND stalled the loop ${listingStall} ms`);

      const hrefs = Array.from({ length: 1000 }, (_, i) => `<D:href>${path}bulk-${i * 3}.vcf</D:href>`).join('');
      const [multiget, multigetStall] = await stall(async () =>
        (
          await request(
            'REPORT',
            path,
            `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>${hrefs}</C:addressbook-multiget>`,
          )
        ).text(),
      );
      assert.equal([...multiget.matchAll(/FN:Person/g)].length, 1000);
      assert.ok(multigetStall < maxStallMs, `multiget stalled the loop ${multigetStall} ms`);

      const [sync, syncStall] = await stall(async () =>
        (
          await request(
            'REPORT',
            path,
            '<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>',
          )
        ).text(),
      );
      assert.equal([...sync.matchAll(/<D:response>/g)].length, cards);
      assert.ok(syncStall < maxStallMs, `sync-collection stalled the loop ${syncStall} ms`);
    });

    it('builds and reads a large directory without stalling', async () => {
      const directory = '/dav/addressbooks/alice@test.example/directory/';
      const list = (user: string) => async () =>
        (await request('PROPFIND', `/dav/addressbooks/${user}/directory/`, '', { Depth: '1' }, user)).text();
      const [first, aliceStall] = await once(list('alice@test.example'));
      const [, carolStall] = await once(list('carol@second.example'));
      const firstStall = Math.min(aliceStall, carolStall);
      assert.equal(
        [...first.matchAll(/\.vcf<\/D:href>/g)].length,
        directorySize + 2,
        'the desks, Alice and the administrator',
      );
      assert.ok(firstStall < maxStallMs, `the first directory listing stalled the loop ${firstStall} ms`);
      const [, againStall] = await stall(async () => (await request('PROPFIND', directory, '', { Depth: '0' })).text());
      assert.ok(againStall < maxStallMs, `a directory listing stalled the loop ${againStall} ms`);
    });

    it('refuses oversized cards, too many properties and deep XML at once, storing nothing', async () => {
      const hostile: [string, string, string, RegExp][] = [
        ['PUT', `${path}huge.vcf`, card(-1, [`NOTE:${'x'.repeat(maxCardSize)}`]), /max-resource-size/],
        [
          'PUT',
          `${path}many.vcf`,
          card(
            -2,
            Array.from({ length: maxCardProperties * 20 }, (_, i) => `X-N:${i}`),
          ),
          /at most 1000 are accepted/,
        ],
        [
          'REPORT',
          path,
          `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">${'<C:filter>'.repeat(2000)}${'</C:filter>'.repeat(2000)}</C:addressbook-query>`,
          /nests elements more than 32 levels/,
        ],
        [
          'REPORT',
          path,
          `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">${'<D:href>x</D:href>'.repeat(20_000)}</C:addressbook-multiget>`,
          /more than 10000 XML tags/,
        ],
      ];
      for (const [method, url, body, message] of hostile) {
        const [response, refusalStall] = await stall(async () => {
          const r = await request(method, url, body);
          return { status: r.status, text: await r.text() };
        });
        assert.ok(response.status === 400 || response.status === 403, `${response.status} ${response.text}`);
        assert.match(response.text, message);
        assert.ok(refusalStall < maxStallMs, `${method} ${message} stalled the loop ${refusalStall} ms`);
      }
      assert.equal((await request('GET', `${path}huge.vcf`)).status, 404);
      assert.equal((await request('GET', `${path}many.vcf`)).status, 404);
      // The largest card allowed is stored.
      const large = card(-3, [`NOTE:${'y'.repeat(maxCardSize - 500)}`]);
      const [stored, storeStall] = await stall(async () => (await request('PUT', `${path}large.vcf`, large)).status);
      assert.equal(stored, 201);
      assert.ok(storeStall < maxStallMs, `a large card stalled the loop ${storeStall} ms`);
    });
  });
}
