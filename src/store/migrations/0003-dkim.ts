// DKIM signing keys, per domain; a rotation adds a key and retires the previous one.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('dkim_keys'), dialect)
    .addColumn('domain_id', 'bigint', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    .addColumn('selector', 'text', notNull)
    .addColumn('private_key', 'text', notNull)
    .addColumn('public_key', 'text', notNull)
    .addColumn('active', 'integer', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('dkim_keys_domain_selector', ['domain_id', 'selector'])
    .execute();
}
