// The tables of contacts (migration 29) as Kysely sees them. They are added to the store's
// Database type here, with Kysely's withTables (types only), so that contacts/ owns its tables'
// shape as it owns their SQL.
import type { Generated, Kysely, Selectable, Transaction } from 'kysely';
import type { CalendarAccess, Database } from '../store/schema.ts';

export type AddressBookKind = 'personal' | 'directory';
export type AddressBookAccess = CalendarAccess;

export interface AddressBookTable {
  id: Generated<number>;
  tenant_id: number;
  /** The owner; null for the tenant's directory. */
  principal_id: number | null;
  kind: AddressBookKind;
  uri: string;
  display_name: string | null;
  description: string | null;
  dead_properties: string | null;
  sync_seq: number;
  sync_floor: Generated<number>;
  created_at: number;
}

export interface CardTable {
  id: Generated<number>;
  address_book_id: number;
  tenant_id: number;
  uri: string;
  uid: string | null;
  version: string;
  etag: string;
  data: string;
  size: number;
  full_name: string | null;
  /** JSON of the card's properties (vcard.ts `CardProperty[]`). */
  search: string;
  seq: number;
  created_at: number;
  updated_at: number;
}

export interface AddressBookChangeTable {
  address_book_id: number;
  uri: string;
  seq: number;
  deleted: number;
}

export interface AddressBookGrantTable {
  address_book_id: number;
  grantee_id: number;
  tenant_id: number;
  access: AddressBookAccess;
  created_at: number;
}

// A type, not an interface: withTables wants an index signature, which only type aliases infer.
export type ContactsTables = {
  address_books: AddressBookTable;
  address_book_cards: CardTable;
  address_book_changes: AddressBookChangeTable;
  address_book_grants: AddressBookGrantTable;
};

export type ContactsDatabase = Database & ContactsTables;
export type AddressBookRow = Selectable<AddressBookTable>;
export type CardRow = Selectable<CardTable>;

/** The store's database, or a transaction of it, with the contacts tables in its type. */
export function contactsDb(db: Transaction<Database>): Transaction<ContactsDatabase>;
export function contactsDb(db: Kysely<Database>): Kysely<ContactsDatabase>;
export function contactsDb(db: Kysely<Database>): Kysely<ContactsDatabase> {
  // withTables makes a new Kysely object each time: one per database or transaction is kept.
  let typed = typedViews.get(db);
  if (!typed) {
    typed = db.withTables<ContactsTables>() as Kysely<ContactsDatabase>;
    typedViews.set(db, typed);
  }
  return typed;
}

const typedViews = new WeakMap<Kysely<Database>, Kysely<ContactsDatabase>>();
