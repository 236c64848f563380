// holdfast contacts list|grant|revoke: a principal's address books and who they are shared with,
// as `holdfast calendar` does for calendars.
import { Option, type Command } from 'commander';
import { grantAddressBook, listAddressBookGrants, revokeAddressBook } from '../contacts/address-book-access.ts';
import {
  countCards,
  defaultAddressBook,
  ensureDefaultAddressBook,
  listAddressBooks,
} from '../contacts/address-books.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerContactsCommands(program: Command) {
  const contacts = program.command('contacts').description('address books (CardDAV) and their sharing');

  action<[string]>(
    contacts
      .command('list <address>')
      .description("list a principal's address books, their cards and who they are shared with"),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address })).getPrincipal(address);
        await ensureDefaultAddressBook(store.db, owner, Date.now());
        const grants = await listAddressBookGrants(store.db, owner.id);
        const rows: { addressBook: string; name: string | null; cards: number; sharedWith: string[] }[] = [];
        for (const book of await listAddressBooks(store.db, owner.id))
          rows.push({
            addressBook: book.uri,
            name: book.display_name,
            cards: await countCards(store.db, book.id),
            sharedWith: grants.filter((g) => g.addressBook === book.uri).map((g) => `${g.grantee} (${g.access})`),
          });
        print(options, rows, () =>
          table(
            ['ADDRESS BOOK', 'NAME', 'CARDS', 'SHARED WITH'],
            rows.map((r) => [r.addressBook, r.name, r.cards, r.sharedWith.join(', ') || '-']),
          ),
        );
      }),
  );

  action<[string, string]>(
    contacts
      .command('grant <owner> <grantee>')
      .description("share the owner's address book with another principal of the same tenant")
      .option('--address-book <name>', 'which address book', defaultAddressBook.uri)
      .addOption(new Option('--access <access>', 'read, or read and write').choices(['read', 'write']).default('read')),
    (ownerAddress, granteeAddress, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address: ownerAddress })).getPrincipal(ownerAddress);
        const grantee = await (await tenantFor(directory, { address: granteeAddress })).getPrincipal(granteeAddress);
        const grant = await grantAddressBook(
          store.db,
          { owner, grantee, addressBook: options.addressBook, access: options.access },
          Date.now(),
        );
        print(
          options,
          grant,
          () =>
            `${grant.grantee} may now ${grant.access === 'write' ? 'read and change' : 'read'} ${grant.owner}'s address book "${grant.addressBook}"`,
        );
      }),
  );

  action<[string, string]>(
    contacts
      .command('revoke <owner> <grantee>')
      .description('stop sharing an address book')
      .option('--address-book <name>', 'which address book', defaultAddressBook.uri),
    (ownerAddress, granteeAddress, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address: ownerAddress })).getPrincipal(ownerAddress);
        const grantee = await (await tenantFor(directory, { address: granteeAddress })).getPrincipal(granteeAddress);
        await revokeAddressBook(store.db, { owner, grantee, addressBook: options.addressBook });
        print(
          options,
          { owner: owner.address, addressBook: options.addressBook, revoked: grantee.address },
          () => `${grantee.address} no longer has access to ${owner.address}'s address book "${options.addressBook}"`,
        );
      }),
  );
}
