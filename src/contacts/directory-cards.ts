// The tenant's directory as a read-only address book (the global address list): one vCard 3.0 per
// user, group, shared mailbox, room and piece of equipment, with every address that reaches it.
// Cards are generated from the directory and kept in the tenant's directory address book, so that
// ETags, sync tokens and queries work as for any address book: `refreshDirectoryBook` brings the
// kept cards up to date before the address book is read, writing only what differs (one
// transaction, and none when nothing changed). Only the tenant's own principals are read.
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import ICAL from 'ical.js';
import type { Kysely } from 'kysely';
import { objectEtag } from '../calendar/calendars.ts';
import type { Principal } from '../directory/principal.ts';
import { TenantDirectory } from '../directory/tenant-directory.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { Database } from '../store/schema.ts';
import { directoryBook, removeCard, writeCard } from './address-books.ts';
import { contactsChanged } from './contacts-changes.ts';
import { contactsDb, type AddressBookRow } from './contacts-tables.ts';
import { parseCard } from './vcard.ts';

/** Cards generated between two turns of the event loop. */
const cardsPerSlice = 100;
/** Cards written in one transaction (on SQLite a transaction holds the thread from start to end). */
const cardsPerTransaction = 25;

interface DirectoryCard {
  uri: string;
  data: string;
}

const categories: Record<Principal['kind'], string> = {
  user: 'Person',
  shared: 'Shared mailbox',
  group: 'Group',
  room: 'Room',
  equipment: 'Equipment',
};

/** A stable UID per principal: a name-based UUID of the tenant and principal ids. */
export function directoryUid(principal: Pick<Principal, 'id' | 'tenantId'>): string {
  const hex = createHash('sha256').update(`holdfast-directory:${principal.tenantId}:${principal.id}`).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export const directoryCardUri = (principal: Pick<Principal, 'id'>) => `principal-${principal.id}.vcf`;

/** The vCards of a tenant's directory, enabled principals only, in address order. */
export async function directoryCards(db: Kysely<Database>, tenantId: number): Promise<DirectoryCard[]> {
  const directory = new TenantDirectory(db, tenantId);
  const principals = (await directory.listPrincipals()).filter((p) => !p.disabled);
  const aliases = new Map<string, string[]>();
  for (const { alias, target } of await directory.listAliases())
    aliases.set(target, [...(aliases.get(target) ?? []), alias]);
  // Every address of the tenant's principals leads to that principal's card.
  const byAddress = new Map<string, Principal>();
  for (const principal of principals) {
    byAddress.set(principal.address, principal);
    for (const alias of aliases.get(principal.address) ?? []) byAddress.set(alias, principal);
  }
  const cards: DirectoryCard[] = [];
  for (const [at, principal] of principals.entries()) {
    if (at > 0 && at % cardsPerSlice === 0) await nextTurn();
    const members = principal.kind === 'group' ? await directory.membersOf(principal.address) : [];
    cards.push({
      uri: directoryCardUri(principal),
      data: principalCard(principal, aliases.get(principal.address) ?? [], members, byAddress),
    });
  }
  return cards;
}

function principalCard(
  principal: Principal,
  aliases: string[],
  members: string[],
  byAddress: Map<string, Principal>,
): string {
  const name = principal.displayName?.trim() || principal.address;
  const properties: unknown[][] = [
    ['version', {}, 'text', '3.0'],
    ['prodid', {}, 'text', '-//Holdfast//Directory//EN'],
    ['uid', {}, 'text', directoryUid(principal)],
    ['fn', {}, 'text', name],
    ['n', {}, 'text', structuredName(principal, name)],
    ['email', { type: ['INTERNET', 'WORK', 'pref'] }, 'text', principal.address],
    ...aliases.map((alias) => ['email', { type: ['INTERNET', 'WORK'] }, 'text', alias]),
    ['categories', {}, 'text', categories[principal.kind]],
  ];
  if (principal.kind === 'group') {
    // Apple's group cards (also read by DAVx5 and others): members by their card's UID, or by address.
    properties.push(['x-addressbookserver-kind', {}, 'unknown', 'group']);
    for (const member of members) {
      const inside = byAddress.get(member);
      properties.push([
        'x-addressbookserver-member',
        {},
        'unknown',
        inside ? directoryUid(inside) : `mailto:${member}`,
      ]);
    }
  }
  return ICAL.stringify(['vcard', properties, []]);
}

/** N: family name last for people ("Alice Liddell" → Liddell;Alice); other principals by their name. */
function structuredName(principal: Principal, name: string): string[] {
  const words = name.split(/\s+/);
  if (principal.kind !== 'user' || words.length < 2 || name === principal.address) return [name, '', '', '', ''];
  return [words.at(-1)!, words.slice(0, -1).join(' '), '', '', ''];
}

/** The tenant's directory address book with its cards brought up to date. */
export async function refreshDirectoryBook(
  db: Kysely<Database>,
  tenantId: number,
  now: number,
): Promise<AddressBookRow> {
  const book = await directoryBook(db, tenantId, now);
  const wanted = await directoryCards(db, tenantId);
  const stored = await storedEtags(db, book.id);
  const changed: DirectoryCard[] = [];
  for (const [at, card] of wanted.entries()) {
    if (at > 0 && at % (cardsPerSlice * 10) === 0) await nextTurn();
    if (stored.get(card.uri) !== objectEtag(card.data)) changed.push(card);
  }
  const wantedUris = new Set(wanted.map((c) => c.uri));
  const gone = [...stored.keys()].filter((uri) => !wantedUris.has(uri));
  // A slice of changes per transaction, the event loop free in between (SQLite runs a transaction
  // on the one thread from start to end).
  for (let at = 0; at < changed.length || (at === 0 && gone.length); at += cardsPerTransaction) {
    if (at > 0) await nextTurn();
    const slice = changed.slice(at, at + cardsPerTransaction);
    const removals = at === 0 ? gone : [];
    await groupCommit(db, async (transaction) => {
      const trx = contactsDb(transaction);
      // Taking the address book's row first serialises refreshes: the second finds the first's cards.
      await trx
        .updateTable('address_books')
        .set((eb) => ({ sync_seq: eb.ref('sync_seq') }))
        .where('id', '=', book.id)
        .execute();
      const current = await storedEtags(transaction, book.id, [...slice.map((c) => c.uri), ...removals]);
      for (const card of slice)
        if (current.get(card.uri) !== objectEtag(card.data))
          await writeCard(trx, book, card.uri, card.data, parseCard(card.data), {}, now);
      for (const uri of removals) if (current.has(uri)) await removeCard(trx, book, uri, {});
    });
  }
  if (!changed.length && !gone.length) return book;
  contactsChanged(tenantId);
  return directoryBook(db, tenantId, now);
}

/**
 * When each tenant's directory address book was last brought up to date, so that it is done at
 * most once per `maxAgeMs` however often clients ask: a directory of thousands costs its
 * generation each time. A change in the directory shows in the address book within that time.
 * One per database (`directoryBooksOf`), so CardDAV and JMAP share it.
 */
export class DirectoryBooks {
  private readonly refreshed = new Map<number, number>();

  constructor(private readonly maxAgeMs = directoryMaxAgeMs) {}

  async current(db: Kysely<Database>, tenantId: number, now: number): Promise<AddressBookRow> {
    const last = this.refreshed.get(tenantId);
    if (last !== undefined && now - last < this.maxAgeMs && now >= last) return directoryBook(db, tenantId, now);
    const book = await refreshDirectoryBook(db, tenantId, now);
    this.refreshed.set(tenantId, now);
    return book;
  }
}

/** How stale the directory address book may be: a new colleague shows within this time. */
export const directoryMaxAgeMs = 60_000;

/** One DirectoryBooks per database, shared by CardDAV and JMAP (a WeakMap: it goes with the database). */
const booksByDatabase = new WeakMap<Kysely<Database>, DirectoryBooks>();

export function directoryBooksOf(db: Kysely<Database>): DirectoryBooks {
  let books = booksByDatabase.get(db);
  if (!books) {
    books = new DirectoryBooks();
    booksByDatabase.set(db, books);
  }
  return books;
}

/** The ETags of the directory's cards: all, or those with the names given. */
async function storedEtags(db: Kysely<Database>, addressBookId: number, uris?: string[]): Promise<Map<string, string>> {
  if (uris?.length === 0) return new Map();
  let query = contactsDb(db)
    .selectFrom('address_book_cards')
    .select(['uri', 'etag'])
    .where('address_book_id', '=', addressBookId);
  if (uris) query = query.where('uri', 'in', uris);
  const rows = await query.execute();
  return new Map(rows.map((r) => [r.uri, r.etag]));
}
