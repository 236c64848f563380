// The URL space of CardDAV (RFC 6352) and what each URL names, with the requester's rights on it:
//
//   /dav/addressbooks/{address}/                 its address book home
//   /dav/addressbooks/{address}/{book}/          an address book: own ones, shared-{id} ones, and
//                                                directory/ (the tenant's directory, read-only)
//   /dav/addressbooks/{address}/{book}/{name}    one vCard
//
// Principals of another tenant do not exist as far as a requester can tell (404).
import {
  addressBookRight,
  addressBooksSharedWith,
  sharedAddressBookUri,
  type AddressBookRight,
} from '../../../contacts/address-book-access.ts';
import {
  addressBookById,
  directoryAddressBook,
  ensureDefaultAddressBook,
  findAddressBook,
  listAddressBooks,
} from '../../../contacts/address-books.ts';
import type { AddressBookRow } from '../../../contacts/contacts-tables.ts';
import { directoryBooksOf } from '../../../contacts/directory-cards.ts';
import { principalById, type Principal } from '../../../directory/principal.ts';
import {
  addressBookHomeHref,
  davRoot,
  decodeSegment,
  homeOwner,
  objectHref,
  segment,
  type ResolveContext,
} from '../dav-resources.ts';

export const addressBookHref = (address: string, uri: string) => `${addressBookHomeHref(address)}${segment(uri)}/`;

export interface BookInHome {
  book: AddressBookRow;
  right: AddressBookRight;
  /** For an address book shared into the viewer's home: who shared it (display name or address). */
  sharedBy?: string;
}

export type CardResource =
  | { kind: 'card-home'; href: string; principal: Principal }
  | ({ kind: 'address-book'; href: string; principal: Principal } & BookInHome)
  | ({ kind: 'card'; href: string; principal: Principal; collectionHref: string; uri: string } & BookInHome)
  /** A name in the viewer's own home that is no address book yet (extended MKCOL creates it). */
  | { kind: 'new-address-book'; href: string; principal: Principal; uri: string }
  | { kind: 'missing'; href: string };

const area = `${davRoot}addressbooks/`;

/** Whether a request path is CardDAV's (under /dav/addressbooks/). */
export const isCardPath = (path: string) => path === area.slice(0, -1) || path.startsWith(area);

export async function resolveCard(context: ResolveContext, path: string): Promise<CardResource> {
  const decoded = path.split('/').filter(Boolean).map(decodeSegment);
  if (decoded.some((part) => part === undefined)) return { kind: 'missing', href: path };
  const [, , address, bookUri, cardUri, ...rest] = decoded as string[];
  if (!address || rest.length) return { kind: 'missing', href: path };
  const principal = await homeOwner(context, address);
  if (!principal) return { kind: 'missing', href: path };
  const own = principal.id === context.viewer.id;
  // The owner's default address book, made the first time it is needed; in another's home the
  // viewer may hold full access to that mailbox (checked with the address book's rights).
  await ensureDefaultAddressBook(context.db, principal, context.now);
  if (!bookUri) return { kind: 'card-home', href: addressBookHomeHref(principal.address), principal };
  const found = await bookInHome(context, principal, bookUri);
  const href = addressBookHref(principal.address, bookUri);
  if (!found)
    return !cardUri && own
      ? { kind: 'new-address-book', href, principal, uri: bookUri }
      : { kind: 'missing', href: path };
  if (!cardUri) return { kind: 'address-book', href, principal, ...found };
  return { kind: 'card', href: objectHref(href, cardUri), principal, ...found, collectionHref: href, uri: cardUri };
}

/** An address book of the home's owner, the directory, or one shared into the viewer's own home. */
async function bookInHome(context: ResolveContext, owner: Principal, uri: string): Promise<BookInHome | undefined> {
  const { db, viewer } = context;
  const own = owner.id === viewer.id;
  if (uri === directoryAddressBook.uri)
    return own
      ? { book: await directoryBooksOf(db).current(db, viewer.tenantId, context.now), right: 'read' }
      : undefined;
  let book: AddressBookRow | undefined;
  let sharedBy: string | undefined;
  const sharedId = /^shared-(\d+)$/.exec(uri);
  if (sharedId && own) {
    book = await addressBookById(db, Number(sharedId[1]));
    if (book && (book.principal_id === null || sharedAddressBookUri(book.id) !== uri)) book = undefined;
    if (book?.principal_id) {
      const sharer = await principalById(db, book.principal_id);
      sharedBy = sharer.displayName ?? sharer.address;
    }
  } else {
    book = await findAddressBook(db, owner.id, uri);
  }
  if (!book) return undefined;
  const right = await addressBookRight(db, viewer, book);
  return right ? { book, right, sharedBy } : undefined;
}

/** The address books a home lists to the viewer: in their own home their own, the directory and
 * those shared with them; in someone else's, only the ones the viewer has rights on. */
export async function addressBooksInHome(
  context: ResolveContext,
  home: Extract<CardResource, { kind: 'card-home' }>,
): Promise<CardResource[]> {
  const { principal } = home;
  const { db, viewer } = context;
  const members: CardResource[] = [];
  for (const book of await listAddressBooks(db, principal.id)) {
    const right = await addressBookRight(db, viewer, book);
    if (right)
      members.push({
        kind: 'address-book',
        href: addressBookHref(principal.address, book.uri),
        principal,
        book,
        right,
      });
  }
  if (principal.id === viewer.id) {
    members.push({
      kind: 'address-book',
      href: addressBookHref(principal.address, directoryAddressBook.uri),
      principal,
      book: await directoryBooksOf(db).current(db, viewer.tenantId, context.now),
      right: 'read',
    });
    for (const shared of await addressBooksSharedWith(db, viewer, context.now)) {
      members.push({
        kind: 'address-book',
        href: addressBookHref(principal.address, sharedAddressBookUri(shared.book.id)),
        principal,
        book: shared.book,
        right: shared.access,
        sharedBy: shared.ownerName ?? shared.owner,
      });
    }
  }
  return members;
}
