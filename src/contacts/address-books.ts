// Address books and the vCards in them. Every write bumps the address book's change number (its
// sync token and CTag) and records which card changed, in the same transaction as the write, as
// calendars do (calendar/calendars.ts), so a client syncing by token never misses a change. Every
// query is scoped by address book id, and ids are only handed out after the access check in
// address-book-access.ts.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import { checkConditions, objectEtag, type WriteConditions } from '../calendar/calendars.ts';
import { conflict, forbidden, invalid, notFound, ResourceConflict } from '../errors.ts';
import { changesSince, recordChange, type ChangeLog } from '../store/change-log.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { Database } from '../store/schema.ts';
import { contactsChanged } from './contacts-changes.ts';
import { contactsDb, type AddressBookRow, type CardRow, type ContactsDatabase } from './contacts-tables.ts';
import { parseCard, type Card, type CardProperty } from './vcard.ts';

type Db = Kysely<Database>;

export const defaultAddressBook = { uri: 'contacts', displayName: 'Contacts' };
/** The tenant's directory as it appears in every address book home. */
export const directoryAddressBook = { uri: 'directory', displayName: 'Directory' };

/** Gives a principal its default address book the first time it has none. */
export async function ensureDefaultAddressBook(db: Db, principal: { id: number; tenantId: number }, now: number) {
  const cdb = contactsDb(db);
  const existing = await cdb
    .selectFrom('address_books')
    .select('id')
    .where('principal_id', '=', principal.id)
    .executeTakeFirst();
  if (existing) return;
  await cdb
    .insertInto('address_books')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      kind: 'personal',
      uri: defaultAddressBook.uri,
      display_name: defaultAddressBook.displayName,
      description: null,
      dead_properties: null,
      sync_seq: 0,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['principal_id', 'uri']).doNothing())
    .execute();
}

export async function listAddressBooks(db: Db, principalId: number): Promise<AddressBookRow[]> {
  return contactsDb(db)
    .selectFrom('address_books')
    .selectAll()
    .where('principal_id', '=', principalId)
    .orderBy('id')
    .execute();
}

export async function findAddressBook(db: Db, principalId: number, uri: string): Promise<AddressBookRow | undefined> {
  return contactsDb(db)
    .selectFrom('address_books')
    .selectAll()
    .where('principal_id', '=', principalId)
    .where('uri', '=', uri)
    .executeTakeFirst();
}

export async function addressBookById(db: Db, id: number): Promise<AddressBookRow | undefined> {
  return contactsDb(db).selectFrom('address_books').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The tenant's directory address book, created the first time it is asked for. */
export async function directoryBook(db: Db, tenantId: number, now: number): Promise<AddressBookRow> {
  const cdb = contactsDb(db);
  const find = () =>
    cdb
      .selectFrom('address_books')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', 'directory')
      .executeTakeFirst();
  const existing = await find();
  if (existing) return existing;
  await cdb
    .insertInto('address_books')
    .values({
      tenant_id: tenantId,
      principal_id: null,
      kind: 'directory',
      uri: directoryAddressBook.uri,
      display_name: directoryAddressBook.displayName,
      description: 'Everyone in the organisation: people, groups, shared mailboxes, rooms and equipment',
      dead_properties: null,
      sync_seq: 0,
      created_at: now,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return (await find())!;
}

export interface AddressBookProperties {
  displayName?: string | null;
  description?: string | null;
  /** JSON of the properties clients set that Holdfast only keeps (PROPPATCH dead properties). */
  deadProperties?: string | null;
}

/** Address books one principal may have: clients show a handful; this bounds what a listing reads. */
export const maxAddressBooks = 100;

/** Names under an address book home that are not the owner's own address books. */
const reservedNames = [directoryAddressBook.uri];

export async function createAddressBook(
  db: Db,
  principal: { id: number; tenantId: number },
  uri: string,
  properties: AddressBookProperties,
  now: number,
): Promise<AddressBookRow> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._~@+-]{0,99}$/.test(uri))
    throw invalid(
      'bad-address-book-name',
      `address book name ${JSON.stringify(uri)} is not allowed: use 1 to 100 letters, digits and . _ ~ @ + -, starting with a letter or digit`,
    );
  if (reservedNames.includes(uri.toLowerCase()) || uri.startsWith('shared-'))
    throw invalid(
      'bad-address-book-name',
      `address book name ${uri} is reserved (directory and shared-… name the organisation's directory and shared address books)`,
    );
  if (await findAddressBook(db, principal.id, uri))
    throw conflict('collection-exists', `an address book named ${uri} already exists`);
  if ((await listAddressBooks(db, principal.id)).length >= maxAddressBooks)
    throw forbidden('need-privileges', `a principal has at most ${maxAddressBooks} address books; delete one first`);
  const book = await contactsDb(db)
    .insertInto('address_books')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      kind: 'personal',
      uri,
      display_name: properties.displayName ?? uri,
      description: properties.description ?? null,
      dead_properties: properties.deadProperties ?? null,
      sync_seq: 0,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  contactsChanged(principal.tenantId);
  return book;
}

export async function updateAddressBook(db: Db, id: number, properties: AddressBookProperties) {
  const values: { display_name?: string | null; description?: string | null; dead_properties?: string | null } = {};
  if (properties.displayName !== undefined) values.display_name = properties.displayName;
  if (properties.description !== undefined) values.description = properties.description;
  if (properties.deadProperties !== undefined) values.dead_properties = properties.deadProperties;
  if (Object.keys(values).length) {
    await contactsDb(db).updateTable('address_books').set(values).where('id', '=', id).execute();
    contactsChanged();
  }
}

export async function deleteAddressBook(db: Db, id: number) {
  await contactsDb(db).deleteFrom('address_books').where('id', '=', id).execute();
  contactsChanged();
}

// Cards ----------------------------------------------------------------------------------------------

export const maxCardUriLength = 255;

export async function getCard(db: Db, addressBookId: number, uri: string): Promise<CardRow | undefined> {
  return contactsDb(db)
    .selectFrom('address_book_cards')
    .selectAll()
    .where('address_book_id', '=', addressBookId)
    .where('uri', '=', uri)
    .executeTakeFirst();
}

/** Cards read in one statement: with their text (which may hold a photo), and without. */
const cardsPerRead = 100;
const summariesPerRead = 1000;

/** The cards with these names, read a slice at a time with the event loop free in between. */
export async function getCards(db: Db, addressBookId: number, uris: string[]): Promise<CardRow[]> {
  const rows: CardRow[] = [];
  for (let at = 0; at < uris.length; at += cardsPerRead) {
    if (at > 0) await nextTurn();
    rows.push(
      ...(await contactsDb(db)
        .selectFrom('address_book_cards')
        .selectAll()
        .where('address_book_id', '=', addressBookId)
        .where('uri', 'in', uris.slice(at, at + cardsPerRead))
        .orderBy('uri')
        .execute()),
    );
  }
  return rows;
}

/**
 * Every row of an address book, read page by page in name order (the unique index on address book
 * and name), with the event loop free between pages: on SQLite a statement holds the thread until
 * its last row.
 */
async function readPages<T extends { uri: string }>(
  perPage: number,
  page: (after: string | null, limit: number) => Promise<T[]>,
): Promise<T[]> {
  const rows: T[] = [];
  for (let after: string | null = null; ; ) {
    const batch: T[] = await page(after, perPage);
    rows.push(...batch);
    if (batch.length < perPage) return rows;
    after = batch.at(-1)!.uri;
    await nextTurn();
  }
}

/** The names and searchable properties of an address book's cards, without their text. */
export function listCardIndex(db: Db, addressBookId: number): Promise<Pick<CardRow, 'uri' | 'search'>[]> {
  return readPages(summariesPerRead, (after, limit) => {
    let query = contactsDb(db)
      .selectFrom('address_book_cards')
      .select(['uri', 'search'])
      .where('address_book_id', '=', addressBookId);
    if (after !== null) query = query.where('uri', '>', after);
    return query.orderBy('uri').limit(limit).execute();
  });
}

/** A card without its text (for listings that do not ask for it), or with it. */
export type CardSummary = Omit<CardRow, 'data' | 'search'> & Partial<Pick<CardRow, 'data' | 'search'>>;

const summaryColumns = [
  'id',
  'address_book_id',
  'tenant_id',
  'uri',
  'uid',
  'version',
  'etag',
  'size',
  'full_name',
  'seq',
  'created_at',
  'updated_at',
] as const;

/** An address book's cards in name order, with their text. */
export function listCards(db: Db, addressBookId: number): Promise<CardRow[]> {
  return readPages(cardsPerRead, (after, limit) => {
    let query = contactsDb(db)
      .selectFrom('address_book_cards')
      .selectAll()
      .where('address_book_id', '=', addressBookId);
    if (after !== null) query = query.where('uri', '>', after);
    return query.orderBy('uri').limit(limit).execute();
  });
}

/** An address book's cards in name order, without their text. */
export function listCardSummaries(db: Db, addressBookId: number): Promise<CardSummary[]> {
  return readPages(summariesPerRead, (after, limit) => {
    let query = contactsDb(db)
      .selectFrom('address_book_cards')
      .select(summaryColumns)
      .where('address_book_id', '=', addressBookId);
    if (after !== null) query = query.where('uri', '>', after);
    return query.orderBy('uri').limit(limit).execute();
  });
}

/** How many cards an address book holds. */
export async function countCards(db: Db, addressBookId: number): Promise<number> {
  const { n } = await contactsDb(db)
    .selectFrom('address_book_cards')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('address_book_id', '=', addressBookId)
    .executeTakeFirstOrThrow();
  return Number(n);
}

/** The properties a card's filters read, from its stored row. */
export const cardProperties = (row: Pick<CardRow, 'search'>): CardProperty[] =>
  JSON.parse(row.search) as CardProperty[];

export interface PutCardResult {
  etag: string;
  created: boolean;
  card: Card;
}

/** Creates or replaces one card. Validates first, so an invalid card changes nothing. */
export async function putCard(
  db: Kysely<Database>,
  book: AddressBookRow,
  uri: string,
  data: string,
  conditions: WriteConditions,
  now: number,
): Promise<PutCardResult> {
  if (uri.length > maxCardUriLength || /[/\\]/.test(uri) || uri === '.' || uri === '..')
    throw invalid(
      'bad-object-name',
      `card name ${JSON.stringify(uri.slice(0, 80))} is not allowed: at most ${maxCardUriLength} characters, no slashes`,
    );
  const card = parseCard(data);
  const etag = objectEtag(data);
  const created = await groupCommit(db, (trx) => writeCard(contactsDb(trx), book, uri, data, card, conditions, now));
  contactsChanged(book.tenant_id);
  return { etag, created, card };
}

/** Writes a validated card in a transaction; true when it was created. */
export async function writeCard(
  trx: Transaction<ContactsDatabase>,
  book: AddressBookRow,
  uri: string,
  data: string,
  card: Card,
  conditions: WriteConditions,
  now: number,
): Promise<boolean> {
  // The change number first: it takes the address book's row, so concurrent writers to it run one
  // after the other and each sees the other's cards (a UID taken meanwhile is a conflict, not a
  // failed insert). A refusal below rolls it back with the rest.
  const seq = await nextChange(trx, book.id, uri, false);
  const existing = await trx
    .selectFrom('address_book_cards')
    .select(['id', 'etag', 'uid'])
    .where('address_book_id', '=', book.id)
    .where('uri', '=', uri)
    .executeTakeFirst();
  checkConditions(existing?.etag, conditions, uri);
  if (card.uid !== undefined) {
    const clash = await trx
      .selectFrom('address_book_cards')
      .select('uri')
      .where('address_book_id', '=', book.id)
      .where('uid', '=', card.uid)
      .where('uri', '!=', uri)
      .executeTakeFirst();
    if (clash)
      throw new ResourceConflict(
        'card-uid-conflict',
        `UID ${card.uid} is already used by ${clash.uri} in this address book`,
        clash.uri,
      );
  }
  if (existing?.uid && existing.uid !== card.uid)
    throw new ResourceConflict(
      'card-uid-conflict',
      `${uri} holds UID ${existing.uid}; a replacement must keep it (found ${card.uid ?? 'none'})`,
      uri,
    );
  const values = {
    uid: card.uid ?? null,
    version: card.version,
    etag: objectEtag(data),
    data,
    size: Buffer.byteLength(data),
    full_name: card.fullName,
    search: JSON.stringify(card.properties),
    seq,
    updated_at: now,
  };
  if (existing) await trx.updateTable('address_book_cards').set(values).where('id', '=', existing.id).execute();
  else
    await trx
      .insertInto('address_book_cards')
      .values({ ...values, address_book_id: book.id, tenant_id: book.tenant_id, uri, created_at: now })
      .execute();
  return !existing;
}

export async function deleteCard(db: Kysely<Database>, book: AddressBookRow, uri: string, conditions: WriteConditions) {
  await groupCommit(db, (trx) => removeCard(contactsDb(trx), book, uri, conditions));
  contactsChanged(book.tenant_id);
}

/** Deletes a card in a transaction, recording the deletion for sync. */
export async function removeCard(
  trx: Transaction<ContactsDatabase>,
  book: AddressBookRow,
  uri: string,
  conditions: WriteConditions,
) {
  await nextChange(trx, book.id, uri, true); // first, as in writeCard
  const existing = await trx
    .selectFrom('address_book_cards')
    .select(['id', 'etag'])
    .where('address_book_id', '=', book.id)
    .where('uri', '=', uri)
    .executeTakeFirst();
  if (!existing) throw notFound('no-such-object', `${uri} is not in address book ${book.uri}`);
  checkConditions(existing.etag, conditions, uri);
  await trx.deleteFrom('address_book_cards').where('id', '=', existing.id).execute();
}

/** Address books' change log (address_book_changes, store/change-log.ts). */
const cardChanges: ChangeLog = {
  collections: 'address_books',
  changes: 'address_book_changes',
  collectionColumn: 'address_book_id',
};

/** Takes the address book's next change number and records that `uri` changed with it. */
const nextChange = (trx: Transaction<ContactsDatabase>, addressBookId: number, uri: string, deleted: boolean) =>
  recordChange(trx, cardChanges, addressBookId, uri, deleted);

/** What changed after change number `since` (RFC 6578): names still present, and names deleted. */
export const cardChangesSince = (db: Db, addressBookId: number, since: number) =>
  changesSince(db, cardChanges, addressBookId, since);
