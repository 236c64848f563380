// The WebDAV properties of CardDAV resources (RFC 6352 §6.2, §7): address book homes, address books
// and vCards, in the getters that properties.ts turns into propstat blocks.
import { maxCardSize } from '../../../contacts/vcard.ts';
import type { AddressBookRight } from '../../../contacts/address-book-access.ts';
import type { CardSummary } from '../../../contacts/address-books.ts';
import type { AddressBookRow } from '../../../contacts/contacts-tables.ts';
import { syncToken } from '../collection-reports.ts';
import { principalHref } from '../dav-resources.ts';
import {
  baseProperties,
  homeProperties,
  privileges,
  type PropertyContext,
  type PropertyGetters,
  type PropertySetter,
  type PropertyValue,
} from '../properties.ts';
import { calendarServer, carddav, dav, node, type XmlNode } from '../xml/dav-xml.ts';
import type { CardResource } from './card-resources.ts';

const href = (value: string) => [node(dav('href'), value)];
const cardPrivileges = (right: AddressBookRight) => privileges(right, false);

export function cardResourceProperties(resource: CardResource, context: PropertyContext): PropertyGetters {
  const { getters, set } = baseProperties(context, () => (resource.kind === 'address-book' ? reports() : []));
  switch (resource.kind) {
    case 'card-home':
      homeProperties(set, resource.principal, context, false);
      break;
    case 'address-book':
      addressBookProperties(set, resource);
      break;
    default:
      break;
  }
  return getters;
}

function addressBookProperties(set: PropertySetter, resource: Extract<CardResource, { kind: 'address-book' }>) {
  const { book, principal, right } = resource;
  for (const [name, value] of Object.entries(deadProperties(book))) set(name, () => value);
  set(dav('resourcetype'), () => [node(dav('collection')), node(carddav('addressbook'))]);
  set(dav('displayname'), () => {
    const name = book.display_name ?? book.uri;
    return resource.sharedBy ? `${name} (${resource.sharedBy})` : name;
  });
  if (book.principal_id !== null) set(dav('owner'), () => href(principalHref(principal.address)));
  set(dav('current-user-privilege-set'), () => cardPrivileges(right));
  set(dav('sync-token'), () => syncToken(book));
  set(calendarServer('getctag'), () => String(book.sync_seq));
  set(carddav('addressbook-description'), () => book.description ?? undefined);
  set(carddav('supported-address-data'), () =>
    ['3.0', '4.0'].map((version) =>
      node(carddav('address-data-type'), undefined, { 'content-type': 'text/vcard', version }),
    ),
  );
  set(carddav('max-resource-size'), () => String(maxCardSize));
}

/** A card's properties; `address-data` only when its text was read. */
export function cardProperties(row: CardSummary, context: PropertyContext, right: AddressBookRight): PropertyGetters {
  return new Map<string, () => PropertyValue | undefined>([
    [dav('resourcetype'), () => []],
    [dav('getetag'), () => row.etag],
    [dav('getcontenttype'), () => `text/vcard; charset=utf-8`],
    [dav('getcontentlength'), () => String(row.size)],
    [dav('getlastmodified'), () => new Date(row.updated_at).toUTCString()],
    [dav('current-user-principal'), () => href(principalHref(context.viewer.address))],
    [dav('current-user-privilege-set'), () => cardPrivileges(right)],
    [carddav('address-data'), () => row.data],
  ]);
}

/** Properties a client may set on an address book (PROPPATCH, extended MKCOL); others are dead. */
export const writableAddressBookProperties = new Set([dav('displayname'), carddav('addressbook-description')]);

/** Live properties of address books that only the server sets. */
export const protectedAddressBookProperties = new Set([
  dav('resourcetype'),
  dav('sync-token'),
  dav('current-user-principal'),
  dav('current-user-privilege-set'),
  dav('owner'),
  dav('supported-report-set'),
  calendarServer('getctag'),
  carddav('supported-address-data'),
  carddav('max-resource-size'),
]);

export function deadProperties(book: AddressBookRow): Record<string, string> {
  return book.dead_properties ? (JSON.parse(book.dead_properties) as Record<string, string>) : {};
}

function reports(): XmlNode[] {
  return [carddav('addressbook-query'), carddav('addressbook-multiget'), dav('sync-collection')].map((name) =>
    node(dav('supported-report'), [node(dav('report'), [node(name)])]),
  );
}
