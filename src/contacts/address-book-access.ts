// Who may use an address book, as calendars decide it (calendar/collection-sharing.ts): its owner;
// principals it is shared with (read, or read and write); full access to a shared mailbox includes
// its address books, as in Exchange. The tenant's directory is readable by every principal of the
// tenant and writable by none. A principal of another tenant never learns an address book exists.
import type { Kysely } from 'kysely';
import {
  checkGrant,
  collectionRight,
  dropGrant,
  listGrants,
  sharedCollections,
  writeGrant,
  type CollectionRight,
  type SharedCollections,
  type Viewer,
} from '../calendar/collection-sharing.ts';
import { notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { ensureDefaultAddressBook, findAddressBook } from './address-books.ts';
import { contactsChanged } from './contacts-changes.ts';
import type { AddressBookAccess, AddressBookRow } from './contacts-tables.ts';

export type AddressBookRight = CollectionRight;

const addressBookGrants: SharedCollections = {
  collections: 'address_books',
  grants: 'address_book_grants',
  collectionColumn: 'address_book_id',
  noun: 'address book',
};

export async function addressBookRight(
  db: Kysely<Database>,
  viewer: Viewer,
  book: AddressBookRow,
): Promise<AddressBookRight | undefined> {
  if (book.kind === 'directory') return book.tenant_id === viewer.tenantId ? 'read' : undefined;
  return collectionRight(db, addressBookGrants, viewer, book);
}

export interface SharedAddressBook {
  book: AddressBookRow;
  owner: string;
  ownerName: string | null;
  access: AddressBookAccess;
}

/**
 * Address books other principals have shared with this one (by grant or full mailbox access). A
 * mailbox the viewer has full access to gets its default address book here if it has none yet:
 * shared mailboxes never sign in to make theirs.
 */
export async function addressBooksSharedWith(
  db: Kysely<Database>,
  viewer: Viewer,
  now: number,
): Promise<SharedAddressBook[]> {
  const mailboxes = await db
    .selectFrom('mailbox_grants')
    .innerJoin('principals', 'principals.id', 'mailbox_grants.target_id')
    .select(['principals.id', 'principals.tenant_id'])
    .where('mailbox_grants.grantee_id', '=', viewer.id)
    .where('mailbox_grants.full_access', '=', 1)
    .where('principals.tenant_id', '=', viewer.tenantId)
    .where('principals.kind', '!=', 'group')
    .execute();
  for (const mailbox of mailboxes)
    await ensureDefaultAddressBook(db, { id: mailbox.id, tenantId: mailbox.tenant_id }, now);
  const shared = await sharedCollections<AddressBookRow>(db, addressBookGrants, viewer);
  return shared.map(({ collection, ...rest }) => ({ book: collection, ...rest }));
}

/** The name a shared address book has inside the grantee's address book home. */
export const sharedAddressBookUri = (id: number) => `shared-${id}`;

/** Shares `owner`'s address book with `grantee` (same tenant): read, or read and write. */
export async function grantAddressBook(
  db: Kysely<Database>,
  input: {
    owner: Viewer & { address: string };
    grantee: Viewer & { address: string };
    addressBook: string;
    access: string;
  },
  now: number,
): Promise<{ owner: string; addressBook: string; grantee: string; access: AddressBookAccess }> {
  const { owner, grantee } = input;
  const access = checkGrant(addressBookGrants, owner, grantee, input.access);
  await ensureDefaultAddressBook(db, owner, now);
  const book = await findAddressBook(db, owner.id, input.addressBook);
  if (!book) throw notFound('no-such-address-book', `${owner.address} has no address book named ${input.addressBook}`);
  await writeGrant(db, addressBookGrants, book, grantee.id, access, now);
  contactsChanged(owner.tenantId);
  return { owner: owner.address, addressBook: book.uri, grantee: grantee.address, access };
}

export async function revokeAddressBook(
  db: Kysely<Database>,
  input: { owner: Viewer & { address: string }; grantee: Viewer; addressBook: string },
) {
  const book = await findAddressBook(db, input.owner.id, input.addressBook);
  if (!book)
    throw notFound('no-such-address-book', `${input.owner.address} has no address book named ${input.addressBook}`);
  await dropGrant(db, addressBookGrants, book.id, input.grantee.id);
  contactsChanged(input.grantee.tenantId);
}

/** Removes one grant of an address book; false when there was none. */
export async function dropAddressBookGrant(db: Kysely<Database>, addressBookId: number, granteeId: number) {
  const dropped = await dropGrant(db, addressBookGrants, addressBookId, granteeId);
  if (dropped) contactsChanged();
  return dropped;
}

/** Who the owner's address books are shared with. */
export async function listAddressBookGrants(db: Kysely<Database>, ownerId: number) {
  const grants = await listGrants(db, addressBookGrants, ownerId);
  return grants.map(({ collection, ...grant }) => ({ addressBook: collection, ...grant }));
}
