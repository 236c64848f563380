// Who may use an address book, as calendar-access.ts decides for calendars: its owner; principals
// it is shared with (read, or read and write); full access to a shared mailbox includes its address
// books, as in Exchange. The tenant's directory is readable by every principal of the tenant and
// writable by none. A principal of another tenant never learns an address book exists.
import type { Kysely } from 'kysely';
import type { CalendarRight, Viewer } from '../calendar/calendar-access.ts';
import { forbidden, invalid, notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { ensureDefaultAddressBook, findAddressBook } from './address-books.ts';
import { contactsDb, type AddressBookAccess, type AddressBookRow } from './contacts-tables.ts';

export type AddressBookRight = CalendarRight;

export async function addressBookRight(
  db: Kysely<Database>,
  viewer: Viewer,
  book: AddressBookRow,
): Promise<AddressBookRight | undefined> {
  if (book.tenant_id !== viewer.tenantId) return undefined;
  if (book.kind === 'directory') return 'read';
  if (book.principal_id === viewer.id) return 'owner';
  if (book.principal_id === null) return undefined;
  const mailbox = await db
    .selectFrom('mailbox_grants')
    .select('full_access')
    .where('target_id', '=', book.principal_id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  if (mailbox?.full_access) return 'write';
  const grant = await contactsDb(db)
    .selectFrom('address_book_grants')
    .select('access')
    .where('address_book_id', '=', book.id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  return grant?.access;
}

export interface SharedAddressBook {
  book: AddressBookRow;
  owner: string;
  ownerName: string | null;
  access: AddressBookAccess;
}

/** Address books other principals have shared with this one (by grant or full mailbox access). */
export async function addressBooksSharedWith(db: Kysely<Database>, viewer: Viewer): Promise<SharedAddressBook[]> {
  const cdb = contactsDb(db);
  const byGrant = await cdb
    .selectFrom('address_book_grants')
    .innerJoin('address_books', 'address_books.id', 'address_book_grants.address_book_id')
    .innerJoin('principals', 'principals.id', 'address_books.principal_id')
    .selectAll('address_books')
    .select(['principals.address as owner', 'principals.display_name as owner_name', 'address_book_grants.access'])
    .where('address_book_grants.grantee_id', '=', viewer.id)
    .where('address_books.tenant_id', '=', viewer.tenantId)
    .execute();
  const byMailbox = await cdb
    .selectFrom('mailbox_grants')
    .innerJoin('address_books', 'address_books.principal_id', 'mailbox_grants.target_id')
    .innerJoin('principals', 'principals.id', 'address_books.principal_id')
    .selectAll('address_books')
    .select(['principals.address as owner', 'principals.display_name as owner_name'])
    .where('mailbox_grants.grantee_id', '=', viewer.id)
    .where('mailbox_grants.full_access', '=', 1)
    .where('address_books.tenant_id', '=', viewer.tenantId)
    .execute();
  const shared = new Map<number, SharedAddressBook>();
  for (const { owner, owner_name, access, ...book } of byGrant)
    shared.set(book.id, { book, owner, ownerName: owner_name, access });
  for (const { owner, owner_name, ...book } of byMailbox)
    shared.set(book.id, { book, owner, ownerName: owner_name, access: 'write' });
  return [...shared.values()].sort((a, b) => a.book.id - b.book.id);
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
  if (input.access !== 'read' && input.access !== 'write')
    throw invalid('bad-access', `--access ${input.access} is not allowed: expected read or write`);
  if (owner.tenantId !== grantee.tenantId)
    throw forbidden(
      'cross-tenant',
      `${grantee.address} is in another tenant; address books are shared within a tenant only`,
    );
  if (owner.id === grantee.id) throw invalid('self-grant', `${owner.address} already owns the address book`);
  await ensureDefaultAddressBook(db, owner, now);
  const book = await findAddressBook(db, owner.id, input.addressBook);
  if (!book) throw notFound('no-such-address-book', `${owner.address} has no address book named ${input.addressBook}`);
  const access: AddressBookAccess = input.access;
  await contactsDb(db)
    .insertInto('address_book_grants')
    .values({ address_book_id: book.id, grantee_id: grantee.id, tenant_id: owner.tenantId, access, created_at: now })
    .onConflict((oc) => oc.columns(['address_book_id', 'grantee_id']).doUpdateSet({ access }))
    .execute();
  return { owner: owner.address, addressBook: book.uri, grantee: grantee.address, access };
}

export async function revokeAddressBook(
  db: Kysely<Database>,
  input: { owner: Viewer & { address: string }; grantee: Viewer; addressBook: string },
) {
  const book = await findAddressBook(db, input.owner.id, input.addressBook);
  if (!book)
    throw notFound('no-such-address-book', `${input.owner.address} has no address book named ${input.addressBook}`);
  await dropAddressBookGrant(db, book.id, input.grantee.id);
}

/** Removes one grant; false when there was none (the access may come with full mailbox access). */
export async function dropAddressBookGrant(db: Kysely<Database>, addressBookId: number, granteeId: number) {
  const removed = await contactsDb(db)
    .deleteFrom('address_book_grants')
    .where('address_book_id', '=', addressBookId)
    .where('grantee_id', '=', granteeId)
    .executeTakeFirst();
  return Number(removed.numDeletedRows) > 0;
}
