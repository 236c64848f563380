// Contacts (CardDAV, RFC 6352): address books, the vCards in them, the change log behind their sync
// tokens (RFC 6578, as calendars keep theirs), and the grants that share an address book with
// another principal of the same tenant.
//
// A personal address book belongs to a principal. The tenant's directory (its users, groups, shared
// mailboxes, rooms and equipment) is one address book per tenant with no principal (`kind`
// 'directory'): its cards are generated from the directory and kept here so that ETags, sync tokens
// and queries work as for any other address book (contacts/directory-cards.ts).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('address_books'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_id', 'bigint', (c) => c.references('principals.id').onDelete('cascade'))
    .addColumn('kind', 'text', notNull) // personal | directory
    .addColumn('uri', 'text', notNull) // the collection's path segment under the address book home
    .addColumn('display_name', 'text')
    .addColumn('description', 'text')
    .addColumn('dead_properties', 'text') // JSON {"{namespace}name": text} that clients set (PROPPATCH)
    .addColumn('sync_seq', 'bigint', notNull) // number of the last change; the sync token and CTag
    // Tokens below it were issued before a restore (backup/restored-identities.ts), as for calendars.
    .addColumn('sync_floor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('address_books_principal_uri', ['principal_id', 'uri'])
    .execute();
  await db.schema.createIndex('address_books_tenant').on('address_books').column('tenant_id').execute();
  // One directory address book per tenant.
  await db.schema
    .createIndex('address_books_directory')
    .unique()
    .on('address_books')
    .column('tenant_id')
    .where(sql.ref('kind'), '=', 'directory')
    .execute();

  await withId(db.schema.createTable('address_book_cards'), dialect)
    .addColumn('address_book_id', 'bigint', (c) => c.notNull().references('address_books.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('uri', 'text', notNull)
    .addColumn('uid', 'text') // a vCard 3 may have none; unique within the address book when present
    .addColumn('version', 'text', notNull) // 3.0 or 4.0
    .addColumn('etag', 'text', notNull)
    .addColumn('data', 'text', notNull) // the vCard as the client sent it
    .addColumn('size', 'integer', notNull)
    .addColumn('full_name', 'text') // FN, for listings
    // JSON [[name, value, {param: [values]}], ...] of the card's properties, binary values left out:
    // what addressbook-query filters read without parsing the vCard again.
    .addColumn('search', 'text', notNull)
    .addColumn('seq', 'bigint', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('updated_at', 'bigint', notNull)
    .addUniqueConstraint('address_book_cards_uri', ['address_book_id', 'uri'])
    .addUniqueConstraint('address_book_cards_uid', ['address_book_id', 'uid'])
    .execute();

  // One row per card URI that ever changed, with the change number that last touched it.
  await db.schema
    .createTable('address_book_changes')
    .addColumn('address_book_id', 'bigint', (c) => c.notNull().references('address_books.id').onDelete('cascade'))
    .addColumn('uri', 'text', notNull)
    .addColumn('seq', 'bigint', notNull)
    .addColumn('deleted', 'integer', notNull)
    .addPrimaryKeyConstraint('address_book_changes_pk', ['address_book_id', 'uri'])
    .execute();
  await db.schema
    .createIndex('address_book_changes_seq')
    .on('address_book_changes')
    .columns(['address_book_id', 'seq'])
    .execute();

  await db.schema
    .createTable('address_book_grants')
    .addColumn('address_book_id', 'bigint', (c) => c.notNull().references('address_books.id').onDelete('cascade'))
    .addColumn('grantee_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('access', 'text', notNull) // read | write
    .addColumn('created_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('address_book_grants_pk', ['address_book_id', 'grantee_id'])
    .execute();
  await db.schema.createIndex('address_book_grants_grantee').on('address_book_grants').column('grantee_id').execute();
}
