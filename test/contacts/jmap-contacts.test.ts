// JMAP for Contacts (RFC 9610): the address books and cards CardDAV stores, seen over JMAP as
// AddressBook and JSContact ContactCard objects — queried, followed by state and by push, written,
// copied between the user's account and a shared mailbox's, address books made and destroyed — on
// both backends, with CardDAV seeing the same.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:contacts'];

for (const name of backendNames) {
  describe(`JMAP Contacts on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let t: TestNode;
    const put = (path: string, vcard: string) =>
      fetch(`${node.base}/dav/addressbooks/alice@test.example/${path}`, {
        method: 'PUT',
        body: vcard,
        headers: {
          Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}`,
          'Content-Type': 'text/vcard',
        },
      });
    const call = (calls: unknown[]) => node.call(calls, undefined, using);

    before(async () => {
      node = await startJmapNode(name, [
        'alice@test.example',
        { kind: 'room', address: 'boardroom@test.example', displayName: 'Board room' },
      ]);
      t = node.t;
      const response = await put(
        'contacts/hatter.vcf',
        [
          'BEGIN:VCARD',
          'VERSION:3.0',
          'UID:hatter-1',
          'FN:Mad Hatter',
          'N:Hatter;Mad;;Mr.;',
          'NICKNAME:Hatta',
          'EMAIL;TYPE=INTERNET,WORK,pref:hatter@tea.example',
          'TEL;TYPE=CELL:+44 20 7946 0000',
          'ADR;TYPE=HOME:;;1 Tea Table;Wonderland;;W1;UK',
          'ORG:Tea Party;Hats',
          'TITLE:Hatter',
          'BDAY:1865-11-26',
          'CATEGORIES:friends,tea',
          'END:VCARD',
          '',
        ].join('\r\n'),
      );
      assert.equal(response.status, 201);
    });
    after(() => t.stop());

    it('lists the address books and answers a card as JSContact', async () => {
      const session = await node.session();
      assert.ok(session.capabilities['urn:ietf:params:jmap:contacts']);
      assert.deepEqual(session.accounts[node.accountId].accountCapabilities['urn:ietf:params:jmap:contacts'], {
        maxAddressBooksPerCard: 1,
        mayCreateAddressBook: true,
      });
      const [[, books]] = await call([['AddressBook/get', { accountId: node.accountId }, '0']]);
      assert.deepEqual(
        books.list.map((b: { name: string; isDefault: boolean; myRights: { mayWrite: boolean } }) => [
          b.name,
          b.isDefault,
          b.myRights.mayWrite,
        ]),
        [
          ['Contacts', true, true],
          ['Directory', false, false],
        ],
      );
      const contactsId = books.list[0].id;

      const [[, query]] = await call([
        ['ContactCard/query', { accountId: node.accountId, filter: { inAddressBook: contactsId } }, '0'],
      ]);
      assert.equal(query.ids.length, 1);
      const [[, got]] = await call([['ContactCard/get', { accountId: node.accountId, ids: query.ids }, '0']]);
      const card = got.list[0];
      assert.deepEqual(card.addressBookIds, { [contactsId]: true });
      assert.equal(card['@type'], 'Card');
      assert.equal(card.uid, 'hatter-1');
      assert.equal(card.kind, 'individual');
      assert.deepEqual(card.name, {
        full: 'Mad Hatter',
        components: [
          { kind: 'title', value: 'Mr.' },
          { kind: 'given', value: 'Mad' },
          { kind: 'surname', value: 'Hatter' },
        ],
      });
      assert.deepEqual(card.emails, {
        e1: { '@type': 'EmailAddress', address: 'hatter@tea.example', contexts: { work: true }, pref: 1 },
      });
      assert.deepEqual(card.phones.p1.features, { mobile: true });
      assert.deepEqual(
        card.addresses.a1.components.map((c: { kind: string }) => c.kind),
        ['name', 'locality', 'postcode', 'country'],
      );
      assert.equal(card.organizations.o1.name, 'Tea Party');
      assert.deepEqual(card.organizations.o1.units, [{ name: 'Hats' }]);
      assert.deepEqual(card.anniversaries.b1.date, { '@type': 'PartialDate', year: 1865, month: 11, day: 26 });
      assert.deepEqual(card.keywords, { friends: true, tea: true });
      assert.equal(card.nicknames.k1.name, 'Hatta');
    });

    it('finds colleagues in the directory by text and follows changes by state', async () => {
      const [[, found]] = await call([
        ['ContactCard/query', { accountId: node.accountId, filter: { text: 'board' } }, '0'],
        [
          'ContactCard/get',
          { accountId: node.accountId, '#ids': { resultOf: '0', name: 'ContactCard/query', path: '/ids' } },
          '1',
        ],
      ]);
      assert.equal(found.ids.length, 1);
      const [, [, room]] = await call([
        ['ContactCard/query', { accountId: node.accountId, filter: { email: 'boardroom@' } }, '0'],
        [
          'ContactCard/get',
          { accountId: node.accountId, '#ids': { resultOf: '0', name: 'ContactCard/query', path: '/ids' } },
          '1',
        ],
      ]);
      assert.equal(room.list[0].name.full, 'Board room');
      assert.deepEqual(room.list[0].keywords, { Room: true });

      const [[, before]] = await call([['ContactCard/get', { accountId: node.accountId, ids: [] }, '0']]);
      const state = before.state;
      const response = await put(
        'contacts/dodo.vcf',
        'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:dodo\r\nFN:Dodo\r\nKIND:individual\r\nEND:VCARD\r\n',
      );
      assert.equal(response.status, 201);
      const deleted = await fetch(`${node.base}/dav/addressbooks/alice@test.example/contacts/hatter.vcf`, {
        method: 'DELETE',
        headers: { Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}` },
      });
      assert.equal(deleted.status, 204);
      const [[, changes]] = await call([
        ['ContactCard/changes', { accountId: node.accountId, sinceState: state }, '0'],
      ]);
      assert.notEqual(changes.newState, state);
      assert.equal(changes.updated.length, 1);
      assert.equal(changes.destroyed.length, 1);
      const [[, dodo]] = await call([['ContactCard/get', { accountId: node.accountId, ids: changes.updated }, '0']]);
      assert.equal(dodo.list[0].uid, 'dodo');

      const [[type, error]] = await call([
        ['ContactCard/changes', { accountId: node.accountId, sinceState: 'nonsense' }, '0'],
      ]);
      assert.equal(type, 'error');
      assert.equal(error.type, 'cannotCalculateChanges');
    });

    it('creates, changes and destroys cards with ContactCard/set, keeping what JSContact does not speak for', async () => {
      const [[, books]] = await call([['AddressBook/get', { accountId: node.accountId }, '0']]);
      const contacts = books.list.find((b: { name: string }) => b.name === 'Contacts').id;
      const directory = books.list.find((b: { name: string }) => b.name === 'Directory').id;
      const [[, made]] = await call([
        [
          'ContactCard/set',
          {
            accountId: node.accountId,
            create: {
              k1: {
                '@type': 'Card',
                addressBookIds: { [contacts]: true },
                name: {
                  components: [
                    { kind: 'given', value: 'Mock' },
                    { kind: 'surname', value: 'Turtle' },
                  ],
                },
                emails: { e1: { address: 'turtle@sea.example', contexts: { private: true }, pref: 1 } },
                phones: { p1: { number: '+44 1', features: { mobile: true } } },
                keywords: { sea: true },
              },
              k2: { addressBookIds: { [directory]: true }, name: { full: 'Intruder' } },
              k3: { addressBookIds: { [contacts]: true } },
            },
          },
          '0',
        ],
      ]);
      assert.deepEqual(Object.keys(made.created), ['k1']);
      assert.equal(made.notCreated.k2.type, 'forbidden');
      assert.equal(made.notCreated.k3.type, 'invalidProperties');
      const turtleId = made.created.k1.id;

      // CardDAV sees a vCard 4.0 made from it.
      const auth = { Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}` };
      const listing = await (
        await fetch(`${node.base}/dav/addressbooks/alice@test.example/contacts/`, {
          method: 'REPORT',
          headers: { ...auth, Depth: '1' },
          body: '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop><C:filter><C:prop-filter name="EMAIL"><C:text-match>turtle@</C:text-match></C:prop-filter></C:filter></C:addressbook-query>',
        })
      ).text();
      assert.match(listing, /VERSION:4.0/);
      assert.match(listing, /FN:Mock Turtle/);
      assert.match(listing, /EMAIL;TYPE=home;PREF=1:turtle@sea\.example/);
      assert.match(listing, /TEL;TYPE=cell(;VALUE=TEXT)?:\+44 1/);

      // A vCard 3.0 with a photo, changed over JMAP: the photo stays, the version too.
      const photoCard =
        'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:gryphon\r\nFN:Gryphon\r\nEMAIL:old@sea.example\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\nX-CUSTOM:kept\r\nEND:VCARD\r\n';
      assert.equal((await put('contacts/gryphon.vcf', photoCard)).status, 201);
      const [[, found]] = await call([
        ['ContactCard/query', { accountId: node.accountId, filter: { uid: 'gryphon' } }, '0'],
      ]);
      const [[, changed]] = await call([
        [
          'ContactCard/set',
          {
            accountId: node.accountId,
            update: {
              [found.ids[0]]: { 'emails/e1/address': 'new@sea.example', 'name/full': 'The Gryphon' },
              [turtleId]: { uid: 'another' },
            },
          },
          '0',
        ],
      ]);
      assert.deepEqual(Object.keys(changed.updated), [found.ids[0]]);
      assert.equal(changed.notUpdated[turtleId].type, 'invalidProperties');
      const gryphon = await (
        await fetch(`${node.base}/dav/addressbooks/alice@test.example/contacts/gryphon.vcf`, { headers: auth })
      ).text();
      assert.match(gryphon, /VERSION:3.0/);
      assert.match(gryphon, /FN:The Gryphon/);
      assert.match(gryphon, /EMAIL:new@sea\.example/);
      assert.match(gryphon, /PHOTO;ENCODING=b;TYPE=JPEG:AAAA/);
      assert.match(gryphon, /X-CUSTOM:kept/);

      const [[, gone]] = await call([
        ['ContactCard/set', { accountId: node.accountId, destroy: [turtleId, 'c999-nothing'] }, '0'],
      ]);
      assert.deepEqual(gone.destroyed, [turtleId]);
      assert.equal(gone.notDestroyed['c999-nothing'].type, 'notFound');
      const [[, stale]] = await call([
        ['ContactCard/set', { accountId: node.accountId, ifInState: made.oldState, destroy: [] }, '0'],
      ]);
      assert.equal(stale.type, 'stateMismatch');
    });

    it("follows a query's results with ContactCard/queryChanges", async () => {
      const [[, books]] = await call([['AddressBook/get', { accountId: node.accountId }, '0']]);
      const contacts = books.list.find((b: { name: string }) => b.name === 'Contacts').id;
      const query = {
        accountId: node.accountId,
        filter: { inAddressBook: contacts },
        sort: [{ property: 'name/full' }],
      };
      const [[, first]] = await call([['ContactCard/query', query, '0']]);
      assert.equal(first.canCalculateChanges, true);
      const [[, nothing]] = await call([
        ['ContactCard/queryChanges', { ...query, sinceQueryState: first.queryState }, '0'],
      ]);
      assert.deepEqual([nothing.removed, nothing.added], [[], []]);

      assert.equal(
        (
          await put(
            'contacts/alice.vcf',
            'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:alice-l\r\nFN:Alice Liddell\r\nEND:VCARD\r\n',
          )
        ).status,
        201,
      );
      const dropped = first.ids[first.ids.length - 1];
      const [[, gone]] = await call([['ContactCard/set', { accountId: node.accountId, destroy: [dropped] }, '0']]);
      assert.deepEqual(gone.destroyed, [dropped]);
      const [[, now], [, changes]] = await call([
        ['ContactCard/query', query, '0'],
        ['ContactCard/queryChanges', { ...query, sinceQueryState: first.queryState, calculateTotal: true }, '1'],
      ]);
      assert.equal(changes.oldQueryState, first.queryState);
      assert.equal(changes.newQueryState, now.queryState);
      assert.equal(changes.total, now.ids.length);
      const alice = now.ids[0];
      assert.deepEqual(changes.added, [{ id: alice, index: 0 }]);
      assert.deepEqual(changes.removed.sort(), [alice, dropped].sort());
      // The client's list, changed as RFC 8620 5.6 says, is the new results.
      const spliced = first.ids.filter((id: string) => !changes.removed.includes(id));
      for (const { id, index } of changes.added) spliced.splice(index, 0, id);
      assert.deepEqual(spliced, now.ids);

      const [[tooMany, tooManyError]] = await call([
        ['ContactCard/queryChanges', { ...query, sinceQueryState: first.queryState, maxChanges: 1 }, '0'],
      ]);
      assert.deepEqual([tooMany, tooManyError.type], ['error', 'tooManyChanges']);
      const [[type, error]] = await call([
        ['ContactCard/queryChanges', { ...query, sinceQueryState: '1.2-garbage' }, '0'],
      ]);
      assert.deepEqual([type, error.type], ['error', 'cannotCalculateChanges']);
    });

    it("copies cards between the user's account and a shared mailbox's with ContactCard/copy", async () => {
      const team = 'team@test.example';
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'shared', address: team });
      await tenant.grant(team, 'alice@test.example', { fullAccess: true, sendAs: false });
      const teamAccount = await node.accountNamed(team);
      const session = await node.session();
      assert.ok(session.accounts[teamAccount].accountCapabilities['urn:ietf:params:jmap:contacts']);

      const bookIds = async (accountId: string) => {
        const [[, books]] = await call([['AddressBook/get', { accountId }, '0']]);
        return Object.fromEntries(books.list.map((b: { name: string; id: string }) => [b.name, b.id]));
      };
      const own = await bookIds(node.accountId);
      const theirs = await bookIds(teamAccount);
      assert.deepEqual(Object.keys(theirs), ['Contacts', 'Directory']);
      // Alice's own account lists the team's address book too ("Contacts (team@…)"): her own is asked.
      const cardOf = async (accountId: string, uid: string) => {
        const inAddressBook = accountId === node.accountId ? own.Contacts : theirs.Contacts;
        const [[, found]] = await call([['ContactCard/query', { accountId, filter: { uid, inAddressBook } }, '0']]);
        return found.ids as string[];
      };
      const [alice] = await cardOf(node.accountId, 'alice-l');
      const [dodo] = await cardOf(node.accountId, 'dodo');

      const copy = (args: Record<string, unknown>) =>
        call([['ContactCard/copy', { accountId: teamAccount, fromAccountId: node.accountId, ...args }, '0']]);
      const [[, copied]] = await copy({
        create: {
          k1: { id: alice, addressBookIds: { [theirs.Contacts]: true } },
          k2: { id: 'c999-nothing', addressBookIds: { [theirs.Contacts]: true } },
          k3: { id: alice, addressBookIds: { [theirs.Directory]: true } },
        },
      });
      assert.equal(copied.fromAccountId, node.accountId);
      assert.deepEqual(Object.keys(copied.created), ['k1']);
      assert.equal(copied.notCreated.k2.type, 'notFound');
      assert.equal(copied.notCreated.k3.type, 'forbidden');
      const [[, got]] = await call([['ContactCard/get', { accountId: teamAccount, ids: [copied.created.k1.id] }, '0']]);
      assert.deepEqual(
        [got.list[0].uid, got.list[0].name.full, got.list[0].addressBookIds],
        ['alice-l', 'Alice Liddell', { [theirs.Contacts]: true }],
      );
      // The original stays where it was.
      assert.deepEqual(await cardOf(node.accountId, 'alice-l'), [alice]);
      const [[, again]] = await copy({ create: { k1: { id: alice, addressBookIds: { [theirs.Contacts]: true } } } });
      assert.deepEqual(
        [again.notCreated.k1.type, again.notCreated.k1.existingId],
        ['alreadyExists', copied.created.k1.id],
      );

      // A move: the copy changed on the way, the original destroyed by the implicit ContactCard/set.
      const moved = await copy({
        onSuccessDestroyOriginal: true,
        create: { m: { id: dodo, addressBookIds: { [theirs.Contacts]: true }, name: { full: 'Dodo Bird' } } },
      });
      assert.deepEqual(
        moved.map(([name]: [string]) => name),
        ['ContactCard/copy', 'ContactCard/set'],
      );
      assert.deepEqual(moved[1][1].destroyed, [dodo]);
      assert.deepEqual(await cardOf(node.accountId, 'dodo'), []);
      const [[, bird]] = await call([
        ['ContactCard/get', { accountId: teamAccount, ids: [moved[0][1].created.m.id] }, '0'],
      ]);
      assert.equal(bird.list[0].name.full, 'Dodo Bird');
      assert.ok(Object.keys(own).some((name) => name.startsWith('Contacts (')));

      const [[sameType, same]] = await copy({ fromAccountId: teamAccount, create: {} });
      assert.deepEqual([sameType, same.type], ['error', 'invalidArguments']);
      const [[nobodyType, nobody]] = await copy({ fromAccountId: 'a99999', create: {} });
      assert.deepEqual([nobodyType, nobody.type], ['error', 'fromAccountNotFound']);
      const [[strangerType, stranger]] = await call([['AddressBook/get', { accountId: 'a99999' }, '0']]);
      assert.deepEqual([strangerType, stranger.type], ['error', 'accountNotFound']);
    });

    it('makes, renames and destroys address books with AddressBook/set, CardDAV seeing the same', async () => {
      const session = await node.session();
      const teamAccount = await node.accountNamed('team@test.example');
      const capability = (id: string) => session.accounts[id].accountCapabilities['urn:ietf:params:jmap:contacts'];
      assert.equal(capability(node.accountId).mayCreateAddressBook, true);
      assert.equal(capability(teamAccount).mayCreateAddressBook, false);
      const set = (args: Record<string, unknown>, accountId = node.accountId) =>
        call([['AddressBook/set', { accountId, ...args }, '0']]).then(([[, answer]]) => answer);
      const [[, before]] = await call([['AddressBook/get', { accountId: node.accountId }, '0']]);
      const named = (name: string) => before.list.find((b: { name: string }) => b.name.startsWith(name)).id;
      const [contacts, directory, team] = [named('Contacts'), named('Directory'), named('Contacts (')];

      const made = await set({
        create: {
          n: { name: 'Tea party', description: 'Guests' },
          blank: { name: ' ' },
          odd: { name: 'Odd', color: 'red' },
          shared: { name: 'Shared', shareWith: { bob: { mayRead: true } } },
          nothing: null,
        },
      });
      assert.deepEqual(Object.keys(made.created), ['n']);
      const tea = made.created.n.id;
      assert.equal(made.created.n.isDefault, false);
      assert.equal(made.created.n.myRights.mayDelete, true);
      assert.deepEqual(made.notCreated.blank.properties, ['name']);
      assert.deepEqual(made.notCreated.odd.properties, ['color']);
      assert.deepEqual(made.notCreated.shared.properties, ['shareWith']);
      assert.equal(made.notCreated.nothing.type, 'invalidProperties');
      const [[, created]] = await call([
        ['AddressBook/changes', { accountId: node.accountId, sinceState: before.state }, '0'],
      ]);
      assert.deepEqual([created.created, created.destroyed], [[tea], []]);

      // CardDAV lists it with its name, and a card made over JMAP is in it.
      const auth = { Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}` };
      const home = () =>
        fetch(`${node.base}/dav/addressbooks/alice@test.example/`, {
          method: 'PROPFIND',
          headers: { ...auth, Depth: '1' },
          body: '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>',
        }).then((r) => r.text());
      assert.match(await home(), /<D:displayname>Tea party<\/D:displayname>/i);
      const [[, card]] = await call([
        [
          'ContactCard/set',
          {
            accountId: node.accountId,
            create: { c: { addressBookIds: { [tea]: true }, name: { full: 'March Hare' } } },
          },
          '0',
        ],
      ]);
      const hare = card.created.c.id;

      const renamed = await set({
        ifInState: created.newState,
        update: {
          [tea]: { name: 'Tea Party Guests', description: null, isSubscribed: true },
          [contacts]: { name: 'Mine' },
          [directory]: { name: 'Everyone' },
          [team]: { name: 'Theirs' },
        },
      });
      // The default address book can be renamed (not destroyed); the directory and a shared one cannot.
      assert.deepEqual(Object.keys(renamed.updated), [tea, contacts]);
      assert.deepEqual(Object.keys((await set({ update: { [contacts]: { name: 'Contacts' } } })).updated), [contacts]);
      assert.equal(renamed.notUpdated[directory].type, 'forbidden');
      assert.equal(renamed.notUpdated[team].type, 'forbidden');
      assert.match(await home(), /<D:displayname>Tea Party Guests<\/D:displayname>/i);
      const [[, after]] = await call([
        ['AddressBook/changes', { accountId: node.accountId, sinceState: created.newState }, '0'],
      ]);
      assert.ok(after.updated.includes(tea));
      const [[, stale]] = await call([
        ['AddressBook/set', { accountId: node.accountId, ifInState: created.newState, destroy: [tea] }, '0'],
      ]);
      assert.equal(stale.type, 'stateMismatch');
      const refused = await set({ update: { [tea]: { sortOrder: 7 }, [contacts]: { isSubscribed: false } } });
      assert.deepEqual(refused.notUpdated[tea].properties, ['sortOrder']);
      assert.deepEqual(refused.notUpdated[contacts].properties, ['isSubscribed']);

      const kept = await set({ destroy: [tea, contacts, directory, team, 'b999999'] });
      assert.equal(kept.destroyed, null);
      assert.equal(kept.notDestroyed[tea].type, 'addressBookHasContents');
      assert.equal(kept.notDestroyed[contacts].type, 'forbidden');
      assert.equal(kept.notDestroyed[directory].type, 'forbidden');
      assert.equal(kept.notDestroyed[team].type, 'forbidden');
      assert.equal(kept.notDestroyed.b999999.type, 'notFound');
      const gone = await set({ destroy: [tea], onDestroyRemoveContents: true });
      assert.deepEqual(gone.destroyed, [tea]);
      const [[, hareNow]] = await call([['ContactCard/get', { accountId: node.accountId, ids: [hare] }, '0']]);
      assert.deepEqual(hareNow.notFound, [hare]);
      assert.doesNotMatch(await home(), /Tea Party Guests/);

      // A shared mailbox's address books are its owner's to make.
      const theirs = await set({ create: { n: { name: 'Ours' } } }, teamAccount);
      assert.equal(theirs.notCreated.n.type, 'forbidden');
    });

    it('pushes AddressBook and ContactCard state changes over EventSource', async () => {
      const controller = new AbortController();
      const response = await fetch(
        `${node.base}/jmap/eventsource/?types=AddressBook,ContactCard&closeafter=no&ping=0`,
        {
          headers: { Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}` },
          signal: controller.signal,
        },
      );
      assert.equal(response.status, 200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      // The `changed` of the next state event.
      const nextChange = async (): Promise<Record<string, Record<string, string>>> => {
        for (;;) {
          const at = buffer.indexOf('\n\n');
          if (at >= 0) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trim())
              .join('\n');
            if (/^event: ?state$/m.test(block)) return JSON.parse(data).changed;
            continue;
          }
          const { value, done } = await reader.read();
          if (done) throw new Error('the stream ended');
          buffer += value;
        }
      };
      const within = <T>(promise: Promise<T>) =>
        Promise.race([
          promise,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no push within 10 s')), 10_000)),
        ]);
      try {
        const first = await within(nextChange());
        const states = first[node.accountId]!;
        assert.deepEqual(Object.keys(states).sort(), ['AddressBook', 'ContactCard']);
        const [[, books]] = await call([['AddressBook/get', { accountId: node.accountId, ids: [] }, '0']]);
        const [[, cards]] = await call([['ContactCard/get', { accountId: node.accountId, ids: [] }, '0']]);
        assert.deepEqual([states.AddressBook, states.ContactCard], [books.state, cards.state]);

        // A card written over CardDAV: the ContactCard state moves, the AddressBook one does not.
        const written = await put(
          'contacts/cheshire.vcf',
          'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:cheshire\r\nFN:Cheshire Cat\r\nEND:VCARD\r\n',
        );
        assert.equal(written.status, 201);
        const afterCard = (await within(nextChange()))[node.accountId]!;
        assert.deepEqual(Object.keys(afterCard), ['ContactCard']);
        const [[, changes]] = await call([
          ['ContactCard/changes', { accountId: node.accountId, sinceState: states.ContactCard }, '0'],
        ]);
        assert.equal(changes.newState, afterCard.ContactCard);
        assert.equal(changes.updated.length, 1);

        // An address book made over JMAP: the AddressBook state moves (and the ContactCard one, the set of books being part of it).
        const [[, made]] = await call([
          ['AddressBook/set', { accountId: node.accountId, create: { n: { name: 'Croquet' } } }, '0'],
        ]);
        const afterBook = (await within(nextChange()))[node.accountId]!;
        assert.equal(afterBook.AddressBook, made.newState);
      } finally {
        controller.abort();
      }
    });
  });
}
