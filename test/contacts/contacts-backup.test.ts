// Address books go through a backup and a restore whole: every card byte for byte, and each address
// book with a sync floor past every token issued before, so clients sync again in full.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createBackup } from '../../src/backup/create-backup.ts';
import { restoreBackup } from '../../src/backup/restore-backup.ts';
import { contactsDb } from '../../src/contacts/contacts-tables.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

const cardsOf = (store: Store) =>
  contactsDb(store.db)
    .selectFrom('address_book_cards')
    .innerJoin('address_books', 'address_books.id', 'address_book_cards.address_book_id')
    .select(['address_books.kind', 'address_books.uri as book', 'address_book_cards.uri', 'address_book_cards.data'])
    .orderBy('address_book_cards.uri')
    .execute();

for (const name of backendNames) {
  describe(`contacts in backups on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let target: TestBackend;
    let to: string;

    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password, displayName: 'Alice' });
      to = await tempDir('holdfast-backups-');
      target = await createBackend(name);
    });
    after(async () => {
      await t.stop();
      await target.cleanup();
      await rm(to, { recursive: true, force: true });
    });

    it('restores every card and renews the sync tokens', async () => {
      const base = `http://127.0.0.1:${t.port('http')}/dav/addressbooks/alice@test.example/`;
      const headers = {
        Authorization: `Basic ${Buffer.from(`alice@test.example:${password}`).toString('base64')}`,
        'Content-Type': 'text/vcard',
      };
      const vcard = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:dodo\r\nFN:Dodo\r\nEMAIL:dodo@caucus.example\r\nEND:VCARD\r\n';
      assert.equal((await fetch(`${base}contacts/dodo.vcf`, { method: 'PUT', body: vcard, headers })).status, 201);
      assert.equal((await fetch(`${base}directory/`, { method: 'PROPFIND', headers })).status, 207);

      const backup = await createBackup(t.node.holdfast.store, { to });
      assert.equal(backup.counts.address_book_cards, 3, 'Dodo, and the directory cards of the admin and Alice');
      await restoreBackup(backup.dir, { location: target.location, dataDir: target.dataDir });
      const { store } = await openStore({ location: target.location, dataDir: target.dataDir });
      try {
        assert.deepEqual(await cardsOf(store), await cardsOf(t.node.holdfast.store));
        const books = await contactsDb(store.db)
          .selectFrom('address_books')
          .select(['sync_seq', 'sync_floor'])
          .execute();
        assert.equal(books.length, 2);
        for (const book of books)
          assert.ok(Number(book.sync_floor) > 1e12 && Number(book.sync_seq) === Number(book.sync_floor));
      } finally {
        await store.close();
      }
    });
  });
}
