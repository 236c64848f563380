// JMAP for Contacts (RFC 9610): AddressBook/get, /changes and /set, ContactCard/get, /changes,
// /query, /queryChanges, /set and /copy, over the address books CardDAV serves (contacts/): the
// user's own, those shared with them, and the tenant's directory; in a shared mailbox's account
// (jmap-accounts.ts), the mailbox's. Cards are JSContact (contacts/jscontact.ts) made from the stored
// vCards; ContactCard/set writes vCards through the same store as CardDAV (a card changed keeps the
// vCard properties JSContact does not speak for, such as photos). AddressBook/set makes and deletes
// address books with the functions CardDAV's MKCOL and DELETE use; sharing is `holdfast contacts`'.
//
// Ids: an address book is `b` and its number; a card is `c`, its address book's number and a hash of
// its name in the address book, so the id of a deleted card is known from the change log. A
// ContactCard state is each visible address book's number and change number: /changes reads the
// address books' change logs since them. An AddressBook state is the visible address books' numbers
// and a hash of their names and descriptions.
import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import ICAL from 'ical.js';
import type { Kysely } from 'kysely';
import { addressBookRight, addressBooksSharedWith, dropAddressBookGrant } from '../../contacts/address-book-access.ts';
import {
  cardChangesSince,
  cardProperties,
  countCards,
  createAddressBook,
  defaultAddressBook,
  deleteAddressBook,
  deleteCard,
  ensureDefaultAddressBook,
  getCards,
  listAddressBooks,
  listCardIndex,
  putCard,
  updateAddressBook,
} from '../../contacts/address-books.ts';
import type { AddressBookRow } from '../../contacts/contacts-tables.ts';
import { directoryBooksOf } from '../../contacts/directory-cards.ts';
import { fromJsContact, JsContactError, type Json, toJsContact } from '../../contacts/jscontact.ts';
import { type CardProperty, parseCard } from '../../contacts/vcard.ts';
import type { Principal } from '../../directory/principal.ts';
import { HoldfastError } from '../../errors.ts';
import type { Database } from '../../store/schema.ts';
import { accountContext, inNamedAccount, signedInUser } from './jmap-accounts.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { parseAccountId } from './jmap-ids.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { jmapLimits, maxChangesLimit } from './jmap-limits.ts';
import { implicitResponses, type JmapMethod, type WithImplicitResponses } from './jmap-request.ts';
import {
  applyFilter,
  getIds,
  getProperties,
  maxChanges,
  parseFilter,
  parseSort,
  queryAnswer,
  queryWindow,
  requireAccount,
  requireInState,
  setArguments,
} from './method-arguments.ts';
import { invalidProperty, SetFailure, SetResults } from './set-outcome.ts';

export const contactsCapability = 'urn:ietf:params:jmap:contacts';

interface VisibleBook {
  book: AddressBookRow;
  name: string;
  mayWrite: boolean;
}

/** The address books `viewer` sees (a shared mailbox in its account), the directory brought up to date first. */
async function booksVisibleTo(db: Kysely<Database>, viewer: Principal, now: number): Promise<VisibleBook[]> {
  const books: VisibleBook[] = [];
  // A shared mailbox never signs in to make its own: its account gets it when first read.
  await ensureDefaultAddressBook(db, viewer, now);
  for (const book of await listAddressBooks(db, viewer.id))
    books.push({ book, name: book.display_name ?? book.uri, mayWrite: true });
  const directory = await directoryBooksOf(db).current(db, viewer.tenantId, now);
  books.push({ book: directory, name: directory.display_name ?? 'Directory', mayWrite: false });
  for (const shared of await addressBooksSharedWith(db, viewer, now)) {
    const right = await addressBookRight(db, viewer, shared.book);
    if (right)
      books.push({
        book: shared.book,
        name: `${shared.book.display_name ?? shared.book.uri} (${shared.ownerName ?? shared.owner})`,
        mayWrite: right !== 'read',
      });
  }
  return books;
}

const visibleBooks = (context: JmapCallContext) =>
  booksVisibleTo(context.mail.db, context.principal, context.mail.now());

const bookId = (book: AddressBookRow) => `b${book.id}`;
const cardId = (book: AddressBookRow, uri: string) =>
  `c${book.id}-${createHash('sha256').update(uri).digest('base64url').slice(0, 16)}`;

/** The state of all visible address books: their numbers and change numbers. */
const stateOf = (books: VisibleBook[]) => books.map(({ book }) => `${book.id}.${book.sync_seq}`).join('-');

/**
 * The state of the address books themselves (AddressBook/get, /changes, /set): which are visible,
 * and a hash of their names and descriptions, so a rename changes it and a card's change does not.
 */
const bookStateOf = (books: VisibleBook[]) =>
  `${books.map(({ book }) => book.id).join('-')}~${createHash('sha256')
    .update(JSON.stringify(books.map(({ book, name, mayWrite }) => [book.id, name, book.description, mayWrite])))
    .digest('base64url')
    .slice(0, 10)}`;

function parseBookState(state: unknown): { ids: Set<number>; look: string } | undefined {
  const match = typeof state === 'string' ? /^(\d+(?:-\d+)*)~([A-Za-z0-9_-]{10})$/.exec(state) : null;
  if (!match || match[1]!.length > 10_000) return undefined;
  return { ids: new Set(match[1]!.split('-').map(Number)), look: match[2]! };
}

function parseState(state: unknown): Map<number, number> | undefined {
  if (typeof state !== 'string' || !/^(\d+\.\d+)(-\d+\.\d+)*$/.test(state)) return undefined;
  return new Map(state.split('-').map((part) => part.split('.').map(Number) as [number, number]));
}

/** The AddressBook and ContactCard states of `principal`'s account, as the methods answer them (for push). */
export async function contactsStatesOf(db: Kysely<Database>, principal: Principal, now: number) {
  const books = await booksVisibleTo(db, principal, now);
  return { AddressBook: bookStateOf(books), ContactCard: stateOf(books) };
}

// AddressBook --------------------------------------------------------------------------------------

const bookProperties = ['id', 'name', 'description', 'sortOrder', 'isDefault', 'isSubscribed', 'shareWith', 'myRights'];

/** Whether the user may rename and destroy the address book: their own, not the default, not in a shared account. */
const mayManage = ({ book }: VisibleBook, context: JmapCallContext) =>
  book.kind === 'personal' &&
  book.principal_id === context.principal.id &&
  book.uri !== defaultAddressBook.uri &&
  !context.signedIn;

function bookObject(visible: VisibleBook, context: JmapCallContext): Record<string, unknown> {
  const { book, name, mayWrite } = visible;
  const viewerId = context.principal.id;
  return {
    id: bookId(book),
    name,
    description: book.description,
    sortOrder: book.kind === 'directory' ? 1 : 0,
    // Only the user's own default counts as default; a shared mailbox's is listed as shared.
    isDefault: book.principal_id === viewerId && book.uri === defaultAddressBook.uri,
    isSubscribed: true,
    shareWith: null,
    myRights: { mayRead: true, mayWrite, mayShare: false, mayDelete: mayManage(visible, context) },
  };
}

const addressBookGet: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, true);
    const wanted = getProperties(args.properties, new Set(bookProperties), bookProperties);
    const books = await visibleBooks(context);
    const objects = books.map((b) => bookObject(b, context));
    const byId = new Map(objects.map((o) => [o.id as string, o]));
    const list = (ids ?? [...byId.keys()])
      .filter((id) => byId.has(id))
      .map((id) => Object.fromEntries(wanted.map((p) => [p, byId.get(id)![p]])));
    return { accountId, state: bookStateOf(books), list, notFound: (ids ?? []).filter((id) => !byId.has(id)) };
  },
};

const addressBookChanges: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const since = parseBookState(args.sinceState);
    if (!since) throw new MethodError('cannotCalculateChanges', 'sinceState is not a state this server gave');
    const books = await visibleBooks(context);
    const newState = bookStateOf(books);
    const now = new Set(books.map(({ book }) => book.id));
    const created = books.filter(({ book }) => !since.ids.has(book.id)).map(({ book }) => bookId(book));
    const destroyed = [...since.ids].filter((id) => !now.has(id)).map((id) => `b${id}`);
    // The state keeps a hash of the names, not each one: a rename reports every remaining book.
    const renamed = newState.slice(newState.indexOf('~') + 1) !== since.look;
    return {
      accountId,
      oldState: args.sinceState,
      newState,
      hasMoreChanges: false,
      created,
      updated: renamed ? books.filter(({ book }) => since.ids.has(book.id)).map(({ book }) => bookId(book)) : [],
      destroyed,
    };
  },
};

// AddressBook/set ----------------------------------------------------------------------------------

const maxBookName = 255;
const maxBookDescription = 1000;

/** The name and description an AddressBook create or update sets, the rest refused or checked against what the server keeps. */
function bookChanges(object: unknown, current: Record<string, unknown> | undefined) {
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    throw new SetFailure({ type: 'invalidProperties', description: 'an AddressBook (or its patch) is an object' });
  const changes: { displayName?: string; description?: string | null } = {};
  for (const [property, value] of Object.entries(object)) {
    const same = current !== undefined && JSON.stringify(value) === JSON.stringify(current[property]);
    switch (property) {
      case 'name':
        if (typeof value !== 'string' || !value.trim() || value.length > maxBookName)
          throw invalidProperty('name', `name must be a string of 1 to ${maxBookName} characters`);
        changes.displayName = value.trim();
        break;
      case 'description':
        if (value !== null && (typeof value !== 'string' || value.length > maxBookDescription))
          throw invalidProperty('description', `description must be null or at most ${maxBookDescription} characters`);
        changes.description = value === null || !value.trim() ? null : value;
        break;
      case 'sortOrder':
        // Not stored: the server's order (personal address books first, then the directory).
        if (!same && !(current === undefined && value === 0))
          throw invalidProperty(
            'sortOrder',
            "sortOrder is the server's (address books first, then the directory) and cannot be set",
          );
        break;
      case 'isSubscribed':
        if (value !== true)
          throw invalidProperty(
            'isSubscribed',
            'every address book the user can see is subscribed; remove a shared one by destroying it',
          );
        break;
      case 'shareWith':
        if (value !== null && !same)
          throw invalidProperty('shareWith', 'address books are shared with `holdfast contacts grant`, not over JMAP');
        break;
      case 'id':
      case 'isDefault':
      case 'myRights':
        if (!same && !(current === undefined && property === 'isDefault' && value === false))
          throw invalidProperty(property, `${property} is set by the server`);
        break;
      default:
        throw invalidProperty(property, `AddressBook has no property ${property.split('/')[0]} that can be set`);
    }
  }
  return changes;
}

/** A refusal of contacts/ (too many address books, a bad name) as a SetError. */
function bookFailure(error: unknown): never {
  if (!(error instanceof HoldfastError)) throw error;
  if (error.code === 'need-privileges') throw new SetFailure({ type: 'overQuota', description: error.message });
  throw new SetFailure({ type: 'invalidProperties', description: error.message });
}

/**
 * AddressBook/set (RFC 9610 2.3): create (a new address book of the user's, as CardDAV's MKCOL makes
 * one), update (name, description), destroy (an address book with cards only with
 * onDestroyRemoveContents, else addressBookHasContents; one shared with the user leaves their list as
 * CardDAV's DELETE makes it). The default address book cannot be destroyed, the directory cannot be
 * changed; a shared mailbox's address books are its owner's to make, rename and destroy.
 */
const addressBookSet: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { create, update, destroy } = setArguments(args);
    const removeContents = args.onDestroyRemoveContents ?? false;
    if (typeof removeContents !== 'boolean') throw invalidArguments('onDestroyRemoveContents must be true or false');
    const { db } = context.mail;
    const books = await visibleBooks(context);
    const oldState = bookStateOf(books);
    requireInState(args, oldState, 'the address books');
    const isDefault = args.onSuccessSetIsDefault;
    if (isDefault !== undefined && isDefault !== null) {
      const named = books.find(({ book }) => bookId(book) === isDefault);
      if (!named || !bookObject(named, context).isDefault)
        throw invalidArguments("the default address book is the user's Contacts and cannot be changed");
    }
    const sharedAccount = () => {
      if (context.signedIn)
        throw new SetFailure({
          type: 'forbidden',
          description: `address books of ${context.principal.address} are its owner's to make, rename and destroy`,
        });
    };
    const results = new SetResults();
    for (const [creationId, value] of Object.entries(create))
      await results.create(creationId, async () => {
        sharedAccount();
        const changes = bookChanges(value, undefined);
        if (changes.displayName === undefined) throw invalidProperty('name', 'name is required');
        const made = await createAddressBook(db, context.principal, randomUUID(), changes, context.mail.now()).catch(
          bookFailure,
        );
        const { id, ...rest } = bookObject({ book: made, name: changes.displayName, mayWrite: true }, context);
        return { id, ...Object.fromEntries(Object.entries(rest).filter(([p]) => !(p in (value as Json)))) };
      });
    const find = (id: string) => {
      const found = books.find(({ book }) => bookId(book) === id);
      if (!found) throw new SetFailure({ type: 'notFound', description: `there is no address book ${id}` });
      return found;
    };
    for (const [id, value] of Object.entries(update))
      await results.update(id, async () => {
        const visible = find(id);
        const changes = bookChanges(value, bookObject(visible, context));
        if (!Object.keys(changes).length) return null;
        sharedAccount();
        if (visible.book.kind === 'directory')
          throw new SetFailure({
            type: 'forbidden',
            description: "the directory is the organisation's and cannot be changed",
          });
        if (visible.book.principal_id !== context.principal.id)
          throw new SetFailure({ type: 'forbidden', description: `${visible.name} is its owner's to rename` });
        await updateAddressBook(db, visible.book.id, changes);
        return null;
      });
    for (const id of destroy)
      await results.destroy(id, async () => {
        const { book, name } = find(id);
        if (book.kind === 'directory')
          throw new SetFailure({
            type: 'forbidden',
            description: "the directory is the organisation's and cannot be destroyed",
          });
        sharedAccount();
        if (book.principal_id !== context.principal.id) {
          // Shared with the user: it leaves their list, as CardDAV's DELETE of it does; the owner keeps it.
          if (!(await dropAddressBookGrant(db, book.id, context.principal.id)))
            throw new SetFailure({
              type: 'forbidden',
              description: `${name} comes with full access to its owner's mailbox; an administrator removes that grant`,
            });
          return;
        }
        if (book.uri === defaultAddressBook.uri)
          throw new SetFailure({ type: 'forbidden', description: 'the default address book cannot be destroyed' });
        if (!removeContents && (await countCards(db, book.id)) > 0)
          throw new SetFailure({
            type: 'addressBookHasContents',
            description: `${name} has cards: destroy them first or set onDestroyRemoveContents`,
          });
        await deleteAddressBook(db, book.id);
      });
    return results.setResponse(accountId, oldState, bookStateOf(await visibleBooks(context)));
  },
};

// ContactCard --------------------------------------------------------------------------------------

interface CardEntry {
  id: string;
  book: AddressBookRow;
  uri: string;
  properties: CardProperty[];
}

/** Every card of the visible address books (names and properties, not the vCard text). */
async function allCards(context: JmapCallContext, books: VisibleBook[]): Promise<CardEntry[]> {
  const entries: CardEntry[] = [];
  for (const { book } of books)
    for (const row of await listCardIndex(context.mail.db, book.id)) {
      // Reading the stored properties costs some microseconds a card: the event loop goes free now and then.
      if (entries.length % 500 === 499) await nextTurn();
      entries.push({ id: cardId(book, row.uri), book, uri: row.uri, properties: cardProperties(row) });
    }
  return entries;
}

function cardObject(entry: CardEntry): Record<string, unknown> {
  return {
    id: entry.id,
    addressBookIds: { [bookId(entry.book)]: true },
    ...toJsContact(entry.properties, `urn:holdfast:card:${entry.id}`),
  };
}

const contactCardGet: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const ids = getIds(args, false)!;
    const books = await visibleBooks(context);
    const wantedBooks = new Set(
      ids
        .map((id) => /^c(\d+)-/.exec(id)?.[1])
        .filter(Boolean)
        .map(Number),
    );
    const entries = await allCards(
      context,
      books.filter(({ book }) => wantedBooks.has(book.id)),
    );
    const byId = new Map(entries.map((e) => [e.id, e]));
    const properties = args.properties;
    if (properties !== undefined && properties !== null && !Array.isArray(properties))
      throw invalidArguments('properties must be an array of property names');
    const list = ids
      .filter((id) => byId.has(id))
      .map((id) => {
        const object = cardObject(byId.get(id)!);
        if (!Array.isArray(properties)) return object;
        return Object.fromEntries(
          ['id', ...(properties as string[])].filter((p) => p in object).map((p) => [p, object[p]]),
        );
      });
    return { accountId, state: stateOf(books), list, notFound: ids.filter((id) => !byId.has(id)) };
  },
};

const contactCardChanges: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const since = parseState(args.sinceState);
    if (!since) throw new MethodError('cannotCalculateChanges', 'sinceState is not a state this server gave');
    const limit = maxChanges(args);
    const books = await visibleBooks(context);
    const updated: string[] = [];
    const destroyed: string[] = [];
    const sameBooks = books.length === since.size && books.every(({ book }) => since.has(book.id));
    if (!sameBooks)
      throw new MethodError(
        'cannotCalculateChanges',
        'address books were added or removed since; fetch the cards again',
      );
    for (const { book } of books) {
      const old = since.get(book.id)!;
      if (old > book.sync_seq || old < Number(book.sync_floor))
        throw new MethodError(
          'cannotCalculateChanges',
          'the state is older than the address book (restored from backup)',
        );
      const { changed, deleted } = await cardChangesSince(context.mail.db, book.id, old);
      updated.push(...changed.map((uri) => cardId(book, uri)));
      destroyed.push(...deleted.map((uri) => cardId(book, uri)));
    }
    if (updated.length + destroyed.length > limit)
      throw new MethodError('cannotCalculateChanges', `more than ${limit} changes; fetch the cards again`);
    // The change log does not tell a new card from a changed one: both are reported as updated.
    return {
      accountId,
      oldState: args.sinceState,
      newState: stateOf(books),
      hasMoreChanges: false,
      created: [],
      updated,
      destroyed,
    };
  },
};

type CardCondition = {
  inAddressBook?: string;
  text?: string;
  name?: string;
  email?: string;
  phone?: string;
  uid?: string;
  kind?: string;
};
const conditionNames = new Set(['inAddressBook', 'text', 'name', 'email', 'phone', 'uid', 'kind']);

function cardCondition(condition: Record<string, unknown>): CardCondition {
  for (const [name, value] of Object.entries(condition)) {
    if (!conditionNames.has(name))
      throw new MethodError(
        'unsupportedFilter',
        `ContactCard/query filters by ${[...conditionNames].join(', ')}, not ${name}`,
      );
    if (typeof value !== 'string') throw invalidArguments(`${name} must be a string`);
  }
  return condition as CardCondition;
}

/** Whether a card passes one condition: text matches anywhere, case-insensitively, as a substring. */
function passes(entry: CardEntry, condition: CardCondition): boolean {
  const values = (...names: string[]) =>
    entry.properties.filter(([name]) => names.includes(name)).map(([, value]) => value.toLowerCase());
  const has = (needle: string, ...names: string[]) => values(...names).some((v) => v.includes(needle.toLowerCase()));
  if (condition.inAddressBook !== undefined && condition.inAddressBook !== bookId(entry.book)) return false;
  if (condition.uid !== undefined && !values('UID').includes(condition.uid.toLowerCase())) return false;
  if (condition.kind !== undefined && (toJsContact(entry.properties, '').kind as string) !== condition.kind)
    return false;
  if (condition.name !== undefined && !has(condition.name, 'FN', 'N', 'NICKNAME')) return false;
  if (condition.email !== undefined && !has(condition.email, 'EMAIL')) return false;
  if (condition.phone !== undefined && !has(condition.phone, 'TEL')) return false;
  if (condition.text !== undefined)
    return has(condition.text, 'FN', 'N', 'NICKNAME', 'EMAIL', 'TEL', 'ORG', 'TITLE', 'NOTE', 'ADR', 'CATEGORIES');
  return true;
}

const sortable = new Set(['name/full']);

/** The ids a ContactCard/query's filter and sort select, in order, and the address books they come from. */
async function runCardQuery(args: Record<string, unknown>, context: JmapCallContext) {
  const filter = parseFilter(args.filter, cardCondition);
  const sort = parseSort(args.sort, sortable);
  const books = await visibleBooks(context);
  const entries = await allCards(context, books);
  const kept = await applyFilter(
    filter,
    entries,
    async (condition, items) => new Set(items.filter((e) => passes(e, condition))),
  );
  // Cards in address book order, then by name in the book; a sort is stable, so ties keep that order.
  let sorted = entries.filter((e) => kept.has(e));
  const byName = sort.find((c) => c.property === 'name/full');
  if (byName) {
    const name = (e: CardEntry) => e.properties.find(([n]) => n === 'FN')?.[1] ?? '';
    sorted = sorted.sort((a, b) => name(a).localeCompare(name(b)) * (byName.isAscending ? 1 : -1));
  }
  return { books, ids: sorted.map((e) => e.id) };
}

const contactCardQuery: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const window = queryWindow(args);
    const { books, ids } = await runCardQuery(args, context);
    return { ...queryAnswer(accountId, stateOf(books), ids, window, args), canCalculateChanges: true };
  },
};

/**
 * ContactCard/queryChanges (RFC 8620 5.6): a card's place in the results depends on nothing but the
 * card itself (its properties and address book), so the cards that can have moved since the state
 * are those the address books' change logs name since it. Each is `removed` and, when in the results
 * now, `added` at its index; every other card kept its place relative to the rest. upToId is
 * ignored, as RFC 8620 5.6 allows. Not calculated: address books added or removed since, a state
 * older than a restore, more than 5,000 cards changed, or a state this server did not make.
 */
const contactCardQueryChanges: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const limit = args.maxChanges;
    if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0))
      throw invalidArguments('maxChanges must be an unsigned integer');
    if (args.upToId !== undefined && args.upToId !== null && typeof args.upToId !== 'string')
      throw invalidArguments('upToId must be an id');
    const since = parseState(args.sinceQueryState);
    const { books, ids } = await runCardQuery(args, context);
    const cannot = (why: string) => new MethodError('cannotCalculateChanges', `${why}: run ContactCard/query again`);
    if (!since) throw cannot('sinceQueryState is not a state this server gave');
    if (books.length !== since.size || !books.every(({ book }) => since.has(book.id)))
      throw cannot('address books were added or removed since that state');
    const moved = new Set<string>();
    for (const { book } of books) {
      const old = since.get(book.id)!;
      if (old > book.sync_seq || old < Number(book.sync_floor))
        throw cannot('the state is older than the address book (restored from backup)');
      if (old === book.sync_seq) continue;
      const { changed, deleted } = await cardChangesSince(context.mail.db, book.id, old);
      for (const uri of [...changed, ...deleted]) moved.add(cardId(book, uri));
      if (moved.size > maxChangesLimit) throw cannot(`more than ${maxChangesLimit} cards changed since that state`);
    }
    const added: { id: string; index: number }[] = [];
    ids.forEach((id, index) => {
      if (moved.has(id)) added.push({ id, index });
    });
    if (typeof limit === 'number' && moved.size + added.length > limit)
      throw new MethodError(
        'tooManyChanges',
        `${moved.size + added.length} changes, more than maxChanges (${limit}): ask for more or query again`,
      );
    return {
      accountId,
      oldQueryState: args.sinceQueryState,
      newQueryState: stateOf(books),
      ...(args.calculateTotal === true ? { total: ids.length } : {}),
      removed: [...moved],
      added,
    };
  },
};

// ContactCard/set ----------------------------------------------------------------------------------

/** Applies a PatchObject (RFC 8620 5.3: JSON pointers to values, null removing) to a copy of `object`. */
function applyPatch(object: Json, patch: Json): Json {
  const copy = structuredClone(object);
  for (const [pointer, value] of Object.entries(patch)) {
    const path = pointer.split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let target: Json = copy;
    for (const step of path.slice(0, -1)) {
      const next = target[step];
      if (typeof next !== 'object' || next === null || Array.isArray(next))
        throw invalidProperty(pointer, `${pointer} does not name a member of an object`);
      target = next as Json;
    }
    const last = path.at(-1)!;
    if (value === null) delete target[last];
    else target[last] = value;
  }
  return copy;
}

/** The one writable address book `addressBookIds` names. */
function targetBook(value: unknown, books: VisibleBook[]): VisibleBook {
  const ids =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.entries(value).filter(([, on]) => on === true)
      : [];
  if (ids.length !== 1) throw invalidProperty('addressBookIds', 'addressBookIds must name exactly one address book');
  const found = books.find(({ book }) => bookId(book) === ids[0]![0]);
  if (!found) throw invalidProperty('addressBookIds', `there is no address book ${ids[0]![0]}`);
  if (!found.mayWrite) throw new SetFailure({ type: 'forbidden', description: `${found.name} is read-only` });
  return found;
}

/** A card the JSContact object makes, or the SetFailure saying why it cannot. */
function vcardOf(card: Json, version: '3.0' | '4.0', uid: string, previous?: unknown[]): string {
  try {
    const text = fromJsContact(card, version, uid, previous);
    parseCard(text);
    return text;
  } catch (error) {
    if (error instanceof JsContactError) throw invalidProperty(error.property, error.message);
    if (error instanceof HoldfastError) throw new SetFailure({ type: 'invalidProperties', description: error.message });
    throw error;
  }
}

const readOnlyMembers = new Set(['id', '@type', 'version']);

const contactCardSet: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const { create, update, destroy } = setArguments(args);
    const { db } = context.mail;
    const books = await visibleBooks(context);
    const oldState = stateOf(books);
    requireInState(args, oldState, 'the contact cards');
    const results = new SetResults();
    for (const [creationId, value] of Object.entries(create)) {
      await results.create(creationId, async () => {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new SetFailure({ type: 'invalidProperties', description: 'a ContactCard is an object' });
        const card = value as Json;
        for (const member of Object.keys(card))
          if (member === 'id') throw invalidProperty('id', 'id is set by the server');
        const { book } = targetBook(card.addressBookIds, books);
        const uid = typeof card.uid === 'string' && card.uid ? card.uid : `urn:uuid:${randomUUID()}`;
        const uri = `${randomUUID()}.vcf`;
        await putCardOr(db, book, uri, vcardOf(card, '4.0', uid), { ifNoneMatch: '*' }, context.mail.now());
        return { id: cardId(book, uri), uid };
      });
    }
    const entries = new Map((await allCards(context, books)).map((e) => [e.id, e]));
    for (const [id, value] of Object.entries(update)) {
      await results.update(id, async () => {
        const entry = entries.get(id);
        if (!entry) throw new SetFailure({ type: 'notFound', description: `there is no card ${id}` });
        const visible = books.find(({ book }) => book.id === entry.book.id)!;
        if (!visible.mayWrite) throw new SetFailure({ type: 'forbidden', description: `${visible.name} is read-only` });
        const current = { ...cardObject(entry) };
        const next = applyPatch(current, value as Json);
        for (const member of readOnlyMembers)
          if (JSON.stringify(next[member]) !== JSON.stringify(current[member]))
            throw invalidProperty(member, `${member} cannot be changed`);
        if (JSON.stringify(next.addressBookIds) !== JSON.stringify(current.addressBookIds))
          throw invalidProperty('addressBookIds', 'moving a card to another address book is not supported');
        if (next.uid !== current.uid) throw invalidProperty('uid', 'uid cannot be changed');
        const [row] = await getCards(db, entry.book.id, [entry.uri]);
        if (!row) throw new SetFailure({ type: 'notFound', description: `there is no card ${id}` });
        const previous = (ICAL.parse(row.data) as [string, unknown[][], unknown[]])[1];
        const version = row.version === '3.0' ? '3.0' : '4.0';
        const text = vcardOf(next, version, String(current.uid), previous);
        await putCardOr(db, entry.book, entry.uri, text, { ifMatch: row.etag }, context.mail.now());
        return null;
      });
    }
    for (const id of destroy) {
      await results.destroy(id, async () => {
        const entry = entries.get(id);
        if (!entry) throw new SetFailure({ type: 'notFound', description: `there is no card ${id}` });
        const visible = books.find(({ book }) => book.id === entry.book.id)!;
        if (!visible.mayWrite) throw new SetFailure({ type: 'forbidden', description: `${visible.name} is read-only` });
        try {
          await deleteCard(db, entry.book, entry.uri, {});
        } catch (error) {
          if (error instanceof HoldfastError && error.kind === 'not-found')
            throw new SetFailure({ type: 'notFound', description: error.message });
          throw error;
        }
      });
    }
    return results.setResponse(accountId, oldState, stateOf(await visibleBooks(context)));
  },
};

// ContactCard/copy ---------------------------------------------------------------------------------

/** What a create of ContactCard/copy may leave out: everything but the original's id and the target address book. */
const copyOverrides = (object: Json) =>
  Object.fromEntries(Object.entries(object).filter(([name]) => name !== 'id' && name !== 'addressBookIds'));

/**
 * ContactCard/copy (RFC 8620 5.4, RFC 9610): cards of one of the user's accounts copied into an
 * address book of another, their own and a shared mailbox's either way (jmap-accounts.ts). The copy
 * is the original's vCard as it is (photos and all) in the address book `addressBookIds` names,
 * with the same UID; JSContact properties given besides `id` and `addressBookIds` change the copy as
 * ContactCard/set would. A UID the target address book holds already is `alreadyExists` with
 * `existingId`. onSuccessDestroyOriginal destroys the copied originals with an implicit
 * ContactCard/set in the source account, answered after the copy with the same call id.
 */
const contactCardCopy: JmapMethod<JmapCallContext> = {
  capability: contactsCapability,
  async run(args, context) {
    // The call runs in the target account (accountId): inNamedAccount gave it that context.
    const accountId = requireAccount(args, context);
    const { fromAccountId } = args;
    if (typeof fromAccountId !== 'string') throw invalidArguments('fromAccountId is required');
    if (fromAccountId === accountId)
      throw invalidArguments('fromAccountId must be another account than accountId (use ContactCard/set within one)');
    const from = await accountContext(context, fromAccountId);
    if (parseAccountId(fromAccountId) !== from.principal.id)
      throw new MethodError('fromAccountNotFound', `no account ${fromAccountId} for ${signedInUser(context).address}`);
    const create = args.create ?? {};
    if (typeof create !== 'object' || create === null || Array.isArray(create))
      throw invalidArguments('create must be an object');
    if (Object.keys(create).length > jmapLimits.maxObjectsInSet)
      throw new MethodError('requestTooLarge', `at most ${jmapLimits.maxObjectsInSet} cards in one ContactCard/copy`);
    const destroyOriginals = args.onSuccessDestroyOriginal ?? false;
    if (typeof destroyOriginals !== 'boolean') throw invalidArguments('onSuccessDestroyOriginal must be true or false');

    const { db } = context.mail;
    const sourceBooks = await visibleBooks(from);
    if (args.ifFromInState !== undefined && args.ifFromInState !== null && args.ifFromInState !== stateOf(sourceBooks))
      throw new MethodError('stateMismatch', `ifFromInState is not the current state of ${fromAccountId}`);
    const books = await visibleBooks(context);
    const oldState = stateOf(books);
    requireInState(args, oldState, 'the contact cards');
    const wanted = new Set(
      Object.values(create).flatMap((o) => (typeof o?.id === 'string' ? [/^c(\d+)-/.exec(o.id)?.[1]] : [])),
    );
    const originals = new Map(
      (
        await allCards(
          from,
          sourceBooks.filter(({ book }) => wanted.has(String(book.id))),
        )
      ).map((e) => [e.id, e]),
    );
    const results = new SetResults();
    const copied: string[] = [];
    for (const [creationId, value] of Object.entries(create as Record<string, unknown>))
      await results.create(creationId, async () => {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new SetFailure({ type: 'invalidProperties', description: 'a copy is an object' });
        const object = value as Json;
        const original = typeof object.id === 'string' ? originals.get(object.id) : undefined;
        if (!original)
          throw new SetFailure({ type: 'notFound', description: `no card ${String(object.id)} in ${fromAccountId}` });
        const { book } = targetBook(object.addressBookIds, books);
        const [row] = await getCards(db, original.book.id, [original.uri]);
        if (!row) throw new SetFailure({ type: 'notFound', description: `no card ${object.id} in ${fromAccountId}` });
        const uid = original.properties.find(([name]) => name === 'UID')?.[1];
        if (uid !== undefined) {
          const existing = (await allCards(context, [{ book, name: '', mayWrite: true }])).find((e) =>
            e.properties.some(([name, v]) => name === 'UID' && v === uid),
          );
          if (existing)
            throw new SetFailure({
              type: 'alreadyExists',
              description: `the address book has a card with UID ${uid} already`,
              existingId: existing.id,
            });
        }
        const overrides = copyOverrides(object);
        let text = row.data;
        if (Object.keys(overrides).length) {
          const current = cardObject(original);
          const next = { ...current, ...overrides };
          for (const member of [...readOnlyMembers, 'uid'])
            if (JSON.stringify(next[member]) !== JSON.stringify(current[member]))
              throw invalidProperty(member, `${member} cannot be changed by a copy`);
          const previous = (ICAL.parse(row.data) as [string, unknown[][], unknown[]])[1];
          text = vcardOf(next, row.version === '3.0' ? '3.0' : '4.0', String(current.uid), previous);
        }
        const uri = `${randomUUID()}.vcf`;
        await putCardOr(db, book, uri, text, { ifNoneMatch: '*' }, context.mail.now());
        copied.push(original.id);
        return { id: cardId(book, uri) };
      });

    const result: WithImplicitResponses = {
      fromAccountId,
      ...results.createResponse(accountId, oldState, stateOf(await visibleBooks(context))),
    };
    if (destroyOriginals && copied.length)
      result[implicitResponses] = [
        ['ContactCard/set', await contactCardSet.run({ accountId: fromAccountId, destroy: copied }, from)],
      ];
    return result;
  },
};

/** putCard, its refusals (a UID already used, a card changed meanwhile) as SetErrors. */
async function putCardOr(...args: Parameters<typeof putCard>) {
  try {
    return await putCard(...args);
  } catch (error) {
    if (!(error instanceof HoldfastError)) throw error;
    if (error.code === 'card-uid-conflict') throw invalidProperty('uid', error.message);
    if (error.code === 'etag-mismatch')
      throw new SetFailure({
        type: 'stateMismatch',
        description: 'the card changed meanwhile; fetch it and try again',
      });
    throw new SetFailure({ type: 'invalidProperties', description: error.message });
  }
}

/** The contacts methods, each run in the account its accountId names: the user's own or a shared mailbox's. */
export const contactsMethods: [string, JmapMethod<JmapCallContext>][] = (
  [
    ['AddressBook/get', addressBookGet],
    ['AddressBook/changes', addressBookChanges],
    ['AddressBook/set', addressBookSet],
    ['ContactCard/get', contactCardGet],
    ['ContactCard/changes', contactCardChanges],
    ['ContactCard/query', contactCardQuery],
    ['ContactCard/queryChanges', contactCardQueryChanges],
    ['ContactCard/set', contactCardSet],
    ['ContactCard/copy', contactCardCopy],
  ] as [string, JmapMethod<JmapCallContext>][]
).map(([name, method]) => [name, inNamedAccount(method)]);
