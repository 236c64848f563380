// CardDAV as a real client sees it: tsdav (discovery from /.well-known/carddav, then the address
// book operations) and plain HTTP requests for what tsdav does not cover, on each backend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAVClient, type DAVAddressBook } from 'tsdav';
import { grantAddressBook } from '../../src/contacts/address-book-access.ts';
import { directoryMaxAgeMs } from '../../src/contacts/directory-cards.ts';
import { maxCardProperties, maxCardSize } from '../../src/contacts/vcard.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

const card = (uid: string, fn: string, lines: string[] = [], version = '3.0') =>
  ['BEGIN:VCARD', `VERSION:${version}`, `UID:${uid}`, `FN:${fn}`, ...lines, 'END:VCARD', ''].join('\r\n');

for (const name of backendNames) {
  describe(`CardDAV with tsdav on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    const home = '/dav/addressbooks/alice@test.example/';

    const client = async (user = 'alice@test.example') => {
      const dav = new DAVClient({
        serverUrl: base,
        credentials: { username: user, password },
        authMethod: 'Basic',
        defaultAccountType: 'carddav',
      });
      await dav.login();
      return dav;
    };
    const request = (
      method: string,
      path: string,
      body?: string,
      headers: Record<string, string> = {},
      user = 'alice@test.example',
    ) =>
      fetch(`${base}${path}`, {
        method,
        body,
        redirect: 'manual',
        headers: {
          Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          ...(method === 'PUT' ? { 'Content-Type': 'text/vcard; charset=utf-8' } : {}),
          ...headers,
        },
      });
    const book = async (suffix: string, user = 'alice@test.example'): Promise<DAVAddressBook> =>
      (await (await client(user)).fetchAddressBooks()).find((b) => b.url.endsWith(suffix))!;
    const query = (path: string, filter: string, extra = '', user = 'alice@test.example') =>
      request(
        'REPORT',
        path,
        `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>${filter}${extra}</C:addressbook-query>`,
        { Depth: '1', 'Content-Type': 'application/xml' },
        user,
      );
    const names = async (response: Response) =>
      [...(await response.text()).matchAll(/<D:href>[^<]*\/([^/<]+\.vcf)<\/D:href>/g)].map((m) => m[1]).sort();

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const directory = t.node.holdfast.directory;
      const tenant = await directory.tenant('default');
      await tenant.addPrincipal({
        kind: 'user',
        address: 'alice@test.example',
        password,
        displayName: 'Alice Liddell',
      });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password, displayName: 'Bob Dodgson' });
      await tenant.addPrincipal({ kind: 'shared', address: 'sales@test.example', displayName: 'Sales' });
      await tenant.addPrincipal({ kind: 'room', address: 'boardroom@test.example', displayName: 'Board room' });
      await tenant.addPrincipal({ kind: 'group', address: 'team@test.example', displayName: 'Team' });
      await tenant.addGroupMember('team@test.example', 'alice@test.example');
      await tenant.addGroupMember('team@test.example', 'partner@elsewhere.example');
      await tenant.addAlias('a.liddell@test.example', 'alice@test.example');
      await directory.addTenant({ name: 'other' });
      const other = await directory.tenant('other');
      await other.addDomain('other.example');
      await other.addPrincipal({ kind: 'user', address: 'eve@other.example', password, displayName: 'Eve Other' });
    });
    after(() => t.stop());

    it('is discovered from /.well-known/carddav and offers Contacts and the Directory', async () => {
      const wellKnown = await request('PROPFIND', '/.well-known/carddav');
      assert.equal(wellKnown.status, 301);
      assert.equal(wellKnown.headers.get('location'), '/dav/');
      const dav = await client();
      assert.equal(dav.account?.homeUrl, `${base}${home}`);
      const books = await dav.fetchAddressBooks();
      assert.deepEqual(books.map((b) => [new URL(b.url).pathname, b.displayName]).sort(), [
        [`${home}contacts/`, 'Contacts'],
        [`${home}directory/`, 'Directory'],
      ]);
      const options = await request('OPTIONS', home);
      assert.match(options.headers.get('dav') ?? '', /\baddressbook\b/);
    });

    it('creates, updates and deletes vCards 3.0 and 4.0 with ETag preconditions', async () => {
      const dav = await client();
      const contacts = await book('/contacts/');
      const created = await dav.createVCard({
        addressBook: contacts,
        filename: 'hatter.vcf',
        vCardString: card('hatter-1', 'Mad Hatter', ['N:Hatter;Mad;;;', 'EMAIL;TYPE=INTERNET,WORK:hatter@tea.example']),
      });
      assert.equal(created.status, 201);
      const etag = created.headers.get('etag')!;
      assert.match(etag, /^"[0-9a-f]+"$/);
      // tsdav creates with If-None-Match: *, so the same name again is refused.
      const again = await dav.createVCard({
        addressBook: contacts,
        filename: 'hatter.vcf',
        vCardString: card('hatter-1', 'Again'),
      });
      assert.equal(again.status, 412);

      const url = `${contacts.url}hatter.vcf`;
      const stale = await dav.updateVCard({ vCard: { url, etag: '"stale"', data: card('hatter-1', 'Hatter') } });
      assert.equal(stale.status, 412);
      const updated = await dav.updateVCard({
        vCard: { url, etag, data: card('hatter-1', 'The Hatter', ['EMAIL:hatter@tea.example']) },
      });
      assert.equal(updated.status, 204);
      const newEtag = updated.headers.get('etag')!;
      assert.notEqual(newEtag, etag);

      const v4 = await dav.createVCard({
        addressBook: contacts,
        filename: 'rabbit.vcf',
        vCardString: card(
          'urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1',
          'White Rabbit',
          ['KIND:individual', 'TEL;VALUE=uri;TYPE=cell:tel:+44-20-7946-0000'],
          '4.0',
        ),
      });
      assert.equal(v4.status, 201);

      const cards = await dav.fetchVCards({ addressBook: contacts });
      const byName = Object.fromEntries(cards.map((c) => [c.url.split('/').at(-1), c]));
      assert.equal(byName['hatter.vcf']?.etag, newEtag);
      assert.match(byName['hatter.vcf']!.data, /FN:The Hatter\r\n/);
      assert.match(byName['rabbit.vcf']!.data, /VERSION:4.0/);

      const get = await request('GET', new URL(url).pathname);
      assert.equal(get.headers.get('content-type'), 'text/vcard; charset=utf-8');
      assert.equal(get.headers.get('etag'), newEtag);

      assert.equal((await dav.deleteVCard({ vCard: { url, etag } })).status, 412);
      assert.equal((await dav.deleteVCard({ vCard: { url, etag: newEtag } })).status, 204);
      assert.equal((await request('GET', new URL(url).pathname)).status, 404);
    });

    it('refuses broken vCards with a precise error and changes nothing', async () => {
      const contacts = await book('/contacts/');
      const path = `${new URL(contacts.url).pathname}broken.vcf`;
      const before = (await book('/contacts/')).syncToken;
      const put = (body: string, type = 'text/vcard') => request('PUT', path, body, { 'Content-Type': type });
      const cases: [string, string, number, RegExp][] = [
        ['garbage', 'hello world', 403, /valid-address-data.*not a vCard/s],
        ['unterminated', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n', 403, /valid-address-data.*cannot be read/s],
        ['two cards', card('a', 'A') + card('b', 'B'), 403, /holds 2 vCards/],
        ['version 2.1', card('c', 'C', [], '2.1'), 415, /supported-address-data.*version 2.1/s],
        ['no version', 'BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n', 403, /no VERSION/],
        ['no FN', 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:x\r\nEND:VCARD\r\n', 403, /no FN/],
        ['two UIDs', card('d', 'D', ['UID:e']), 403, /2 UID properties/],
        ['bad parameter', card('f', 'F', ['EMAIL;TYPE:x@y']), 403, /cannot be read/],
        ['calendar', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n', 415, /is a VCALENDAR/],
        [
          'too many properties',
          card(
            'g',
            'G',
            Array.from({ length: maxCardProperties + 1 }, (_, i) => `EMAIL:n${i}@x.example`),
          ),
          403,
          new RegExp(`at most ${maxCardProperties}`),
        ],
        ['too large', card('h', 'H', [`NOTE:${'x'.repeat(maxCardSize)}`]), 403, /max-resource-size/],
      ];
      for (const [what, body, status, message] of cases) {
        const response = await put(body);
        assert.equal(response.status, status, what);
        assert.match(await response.text(), message, what);
      }
      const wrongType = await put(card('i', 'I'), 'text/calendar');
      assert.equal(wrongType.status, 415);
      assert.equal((await request('GET', path)).status, 404);
      assert.equal((await book('/contacts/')).syncToken, before);

      // A UID used by another card of the address book.
      const first = await put(card('dup-uid', 'First'));
      assert.equal(first.status, 201);
      const clash = await request('PUT', `${new URL(contacts.url).pathname}other.vcf`, card('dup-uid', 'Second'));
      assert.equal(clash.status, 409);
      // RFC 6352 6.3.2.1: the precondition names the card that has the UID.
      assert.match(
        await clash.text(),
        new RegExp(`<CR:no-uid-conflict><D:href>${path.replace(/[.]/g, '\\.')}</D:href></CR:no-uid-conflict>`),
      );
      assert.equal((await request('DELETE', path)).status, 204);
    });

    it('answers addressbook-query with prop-filters, text-matches, param-filters and limits', async () => {
      const contacts = await book('/contacts/');
      const path = new URL(contacts.url).pathname;
      const cards: [string, string][] = [
        ['q1.vcf', card('q1', 'Queen of Hearts', ['EMAIL;TYPE=WORK:queen@hearts.example', 'ORG:Court'])],
        ['q2.vcf', card('q2', 'King of Hearts', ['EMAIL;TYPE=HOME:king@hearts.example', 'NICKNAME:Majesty'])],
        ['q3.vcf', card('q3', 'Cheshire Cat', ['TEL;TYPE=CELL:+44 1234'])],
      ];
      for (const [file, data] of cards) assert.equal((await request('PUT', `${path}${file}`, data)).status, 201);
      const filter = (body: string, test = 'anyof') => `<C:filter test="${test}">${body}</C:filter>`;
      assert.deepEqual(
        await names(
          await query(
            path,
            filter('<C:prop-filter name="EMAIL"><C:text-match>HEARTS.example</C:text-match></C:prop-filter>'),
          ),
        ),
        ['q1.vcf', 'q2.vcf'],
      );
      assert.deepEqual(
        await names(
          await query(
            path,
            filter(
              '<C:prop-filter name="FN"><C:text-match match-type="starts-with">king</C:text-match></C:prop-filter>',
            ),
          ),
        ),
        ['q2.vcf'],
      );
      assert.deepEqual(
        await names(
          await query(
            path,
            filter(
              '<C:prop-filter name="FN"><C:text-match match-type="equals" collation="i;octet">cheshire cat</C:text-match></C:prop-filter>',
            ),
          ),
        ),
        [],
      );
      assert.deepEqual(
        await names(
          await query(
            path,
            filter(
              '<C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter>',
            ),
          ),
        ),
        ['q1.vcf'],
      );
      assert.deepEqual(
        await names(
          await query(
            path,
            filter(
              '<C:prop-filter name="FN"><C:text-match>hearts</C:text-match></C:prop-filter><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>',
              'allof',
            ),
          ),
        ),
        ['q1.vcf'],
      );
      assert.deepEqual(
        await names(
          await query(
            path,
            filter(
              '<C:prop-filter name="TEL"><C:text-match negate-condition="yes">1234</C:text-match></C:prop-filter>',
            ),
          ),
        ),
        // The White Rabbit's TEL does not hold 1234; the Cheshire Cat's does.
        ['rabbit.vcf'],
      );
      const limited = await query(
        path,
        filter('<C:prop-filter name="FN"/>'),
        '<C:limit><C:nresults>2</C:nresults></C:limit>',
      );
      const text = await limited.text();
      assert.equal([...text.matchAll(/\.vcf<\/D:href>/g)].length, 2);
      assert.match(text, /507 Insufficient Storage/);
      assert.match(text, /number-of-matches-within-limits/);

      const collation = await query(
        path,
        filter('<C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter>'),
      );
      assert.equal(collation.status, 403);
      assert.match(await collation.text(), /supported-collation/);

      // tsdav's own query (every card with an FN) and multiget.
      const dav = await client();
      const all = await dav.fetchVCards({ addressBook: contacts });
      assert.ok(all.length >= 3);
      const some = await dav.fetchVCards({ addressBook: contacts, objectUrls: [`${contacts.url}q3.vcf`] });
      assert.deepEqual(
        some.map((c) => c.url.split('/').at(-1)),
        ['q3.vcf'],
      );
      // An href that names no card is answered 404 inside the multistatus.
      const multiget = await request(
        'REPORT',
        path,
        `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>${path}q3.vcf</D:href><D:href>${path}nope.vcf</D:href></C:addressbook-multiget>`,
      );
      const body = await multiget.text();
      assert.equal(multiget.status, 207);
      assert.match(body, /FN:Cheshire Cat/);
      assert.match(body, /nope\.vcf<\/D:href><D:status>HTTP\/1\.1 404 Not Found/);
    });

    it('syncs by token across changes, including deletions', async () => {
      const dav = await client();
      await request(
        'MKCOL',
        `${home}sync-test/`,
        '<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Sync test</D:displayname></D:prop></D:set></D:mkcol>',
      ).then((r) => assert.equal(r.status, 201));
      const addressBook = await book('/sync-test/');
      assert.equal(addressBook.displayName, 'Sync test');
      for (const n of [1, 2, 3])
        await dav.createVCard({ addressBook, filename: `c${n}.vcf`, vCardString: card(`sync-${n}`, `Card ${n}`) });
      const initial = await dav.syncCollection({
        url: addressBook.url,
        props: { 'd:getetag': {} },
        syncLevel: 1,
        syncToken: '',
      });
      assert.equal(initial.filter((r) => r.href?.endsWith('.vcf')).length, 3);
      const token = (await book('/sync-test/')).syncToken as string;

      const [first] = await dav.fetchVCards({ addressBook, objectUrls: [`${addressBook.url}c1.vcf`] });
      await dav.updateVCard({ vCard: { ...first!, data: card('sync-1', 'Card 1 renamed') } });
      const [second] = await dav.fetchVCards({ addressBook, objectUrls: [`${addressBook.url}c2.vcf`] });
      await dav.deleteVCard({ vCard: second! });
      await dav.createVCard({ addressBook, filename: 'c4.vcf', vCardString: card('sync-4', 'Card 4') });

      const changes = await dav.syncCollection({
        url: addressBook.url,
        props: { 'd:getetag': {} },
        syncLevel: 1,
        syncToken: token,
      });
      const byHref = Object.fromEntries(
        changes.filter((r) => r.href).map((r) => [r.href!.split('/').at(-1), r.status]),
      );
      assert.deepEqual(byHref, { 'c1.vcf': 207, 'c4.vcf': 207, 'c2.vcf': 404 });

      const bogus = await request(
        'REPORT',
        new URL(addressBook.url).pathname,
        '<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://holdfast.invalid/ns/sync/999999</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>',
      );
      assert.equal(bogus.status, 403);
      assert.match(await bogus.text(), /valid-sync-token/);

      // Extra address books can be deleted; the default one cannot.
      assert.equal((await request('DELETE', `${home}sync-test/`)).status, 204);
      assert.equal((await request('DELETE', `${home}contacts/`)).status, 403);
    });

    it('serialises concurrent writers: one card per UID, every change numbered', async () => {
      const path = '/dav/addressbooks/alice@test.example/contacts/';
      const before = Number(/\/(\d+)$/.exec((await book('/contacts/')).syncToken as string)![1]);
      const sameUid = await Promise.all(
        Array.from({ length: 8 }, (_, i) => request('PUT', `${path}race-${i}.vcf`, card('race-uid', `Racer ${i}`))),
      );
      assert.deepEqual(sameUid.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
      const distinct = await Promise.all(
        Array.from({ length: 8 }, (_, i) => request('PUT', `${path}many-${i}.vcf`, card(`many-${i}`, `Many ${i}`))),
      );
      assert.deepEqual(
        distinct.map((r) => r.status),
        Array.from({ length: 8 }, () => 201),
      );
      const after = Number(/\/(\d+)$/.exec((await book('/contacts/')).syncToken as string)![1]);
      assert.equal(after - before, 9, 'one change per card stored, none for the refused');
      assert.equal((await request('POST', path, 'x')).status, 405);
    });

    it("lists the tenant's directory read-only, and never another tenant's principals", async () => {
      const directory = await book('/directory/');
      const dav = await client();
      const cards = await dav.fetchVCards({ addressBook: directory });
      const fns = cards.map((c) => /\r\nFN:(.*)\r\n/.exec(c.data)?.[1]).sort();
      // The administrator created at the first start is a user of the tenant too.
      assert.deepEqual(fns, ['Administrator', 'Alice Liddell', 'Board room', 'Bob Dodgson', 'Sales', 'Team']);
      const alice = cards.find((c) => c.data.includes('FN:Alice Liddell'))!.data;
      assert.match(alice, /EMAIL;TYPE=INTERNET,WORK,pref:alice@test\.example/);
      assert.match(alice, /EMAIL;TYPE=INTERNET,WORK:a\.liddell@test\.example/);
      assert.match(alice, /N:Liddell;Alice;;;/);
      const team = cards.find((c) => c.data.includes('FN:Team'))!.data;
      const aliceUid = /\r\nUID:(.*)\r\n/.exec(alice)![1];
      assert.match(team, /X-ADDRESSBOOKSERVER-KIND:group/);
      assert.ok(team.includes(`X-ADDRESSBOOKSERVER-MEMBER:${aliceUid}`));
      assert.match(team, /X-ADDRESSBOOKSERVER-MEMBER:mailto:partner@elsewhere\.example/);
      assert.match(cards.find((c) => c.data.includes('FN:Board room'))!.data, /CATEGORIES:Room/);
      assert.ok(!cards.some((c) => c.data.includes('other.example')));

      const path = new URL(directory.url).pathname;
      const found = await query(
        path,
        '<C:filter><C:prop-filter name="EMAIL"><C:text-match>a.liddell</C:text-match></C:prop-filter></C:filter>',
      );
      assert.equal((await names(found)).length, 1);

      const first = new URL(cards[0]!.url).pathname;
      const put = await request('PUT', `${path}mine.vcf`, card('mine', 'Mine'));
      assert.equal(put.status, 403);
      assert.match(await put.text(), /directory address book.*cannot be changed/);
      assert.equal((await request('PUT', first, card('x', 'X'))).status, 403);
      assert.equal((await request('DELETE', first)).status, 403);
      assert.equal((await request('DELETE', path)).status, 403);

      // A change in the directory reaches the address book and its sync token once the directory is
      // read again (at most once a minute: directory-cards.ts).
      const token = (await book('/directory/')).syncToken as string;
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'equipment', address: 'projector@test.example', displayName: 'Projector' });
      await tenant.updatePrincipal('bob@test.example', { disabled: true });
      t.clock.advance(directoryMaxAgeMs);
      const changes = await dav.syncCollection({
        url: directory.url,
        props: { 'd:getetag': {} },
        syncLevel: 1,
        syncToken: token,
      });
      assert.deepEqual(
        changes
          .filter((r) => r.href)
          .map((r) => r.status)
          .sort(),
        [207, 404],
      );
      const unchanged = (await book('/directory/')).syncToken;
      assert.equal((await book('/directory/')).syncToken, unchanged);

      // Eve, of another tenant, sees her own tenant's directory only.
      const eveCards = await (await client('eve@other.example')).fetchVCards({
        addressBook: await book('/directory/', 'eve@other.example'),
      });
      assert.deepEqual(
        eveCards.map((c) => /\r\nFN:(.*)\r\n/.exec(c.data)?.[1]),
        ['Eve Other'],
      );
      await tenant.updatePrincipal('bob@test.example', { disabled: false });
      t.clock.advance(directoryMaxAgeMs);
    });

    it('keeps tenants and people apart, and shares an address book within the tenant', async () => {
      assert.equal((await request('PROPFIND', home, '', { Depth: '1' }, 'eve@other.example')).status, 404);
      assert.equal((await request('GET', `${home}contacts/q1.vcf`, undefined, {}, 'eve@other.example')).status, 404);
      assert.equal((await request('GET', `${home}contacts/q1.vcf`, undefined, {}, 'bob@test.example')).status, 404);
      assert.equal((await request('GET', `${home}directory/`, undefined, {}, 'bob@test.example')).status, 404);

      const db = t.node.holdfast.store.db;
      const tenant = await t.node.holdfast.directory.tenant('default');
      const alice = await tenant.getPrincipal('alice@test.example');
      const bob = await tenant.getPrincipal('bob@test.example');
      await grantAddressBook(db, { owner: alice, grantee: bob, addressBook: 'contacts', access: 'read' }, Date.now());
      const shared = (await (await client('bob@test.example')).fetchAddressBooks()).find((b) =>
        String(b.displayName).includes('(Alice Liddell)'),
      )!;
      assert.match(shared.url, /\/dav\/addressbooks\/bob@test\.example\/shared-\d+\/$/);
      const sharedPath = new URL(shared.url).pathname;
      assert.equal((await request('GET', `${sharedPath}q1.vcf`, undefined, {}, 'bob@test.example')).status, 200);
      const refused = await request('PUT', `${sharedPath}bob.vcf`, card('bob-card', 'Bob'), {}, 'bob@test.example');
      assert.equal(refused.status, 403);
      await grantAddressBook(db, { owner: alice, grantee: bob, addressBook: 'contacts', access: 'write' }, Date.now());
      assert.equal(
        (await request('PUT', `${sharedPath}bob.vcf`, card('bob-card', 'Bob'), {}, 'bob@test.example')).status,
        201,
      );
      assert.equal((await request('GET', `${home}contacts/bob.vcf`)).status, 200);
      // Eve cannot be given Alice's address book.
      const eve = await (await t.node.holdfast.directory.tenant('other')).getPrincipal('eve@other.example');
      await assert.rejects(
        grantAddressBook(db, { owner: alice, grantee: eve, addressBook: 'contacts', access: 'read' }, Date.now()),
        /another tenant/,
      );
      // Removing it from Bob's home drops the share.
      assert.equal((await request('DELETE', sharedPath, undefined, {}, 'bob@test.example')).status, 204);
      assert.equal((await request('GET', `${sharedPath}q1.vcf`, undefined, {}, 'bob@test.example')).status, 404);

      // Full access to a shared mailbox includes its address book, writable, though the mailbox
      // never signed in to make one.
      await tenant.grant('sales@test.example', 'alice@test.example', { fullAccess: true, sendAs: false });
      const sales = (await (await client()).fetchAddressBooks()).find(
        (b) => String(b.displayName) === 'Contacts (Sales)',
      );
      assert.ok(sales, 'the shared mailbox address book is listed');
      const salesPath = new URL(sales.url).pathname;
      assert.equal((await request('PUT', `${salesPath}lead.vcf`, card('lead-1', 'A lead'))).status, 201);
      assert.equal((await request('GET', '/dav/addressbooks/sales@test.example/contacts/lead.vcf')).status, 200);
      assert.equal(
        (
          await request(
            'GET',
            '/dav/addressbooks/sales@test.example/contacts/lead.vcf',
            undefined,
            {},
            'bob@test.example',
          )
        ).status,
        404,
      );
      assert.equal((await request('DELETE', salesPath)).status, 403, 'the grant is for an administrator to remove');
    });
  });
}
