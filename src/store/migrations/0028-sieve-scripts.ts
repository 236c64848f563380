// Sieve scripts (RFC 5228), per user: any number, named, at most one active (the one run at local
// delivery; RFC 5804's model, which ManageSieve and `holdfast sieve` manage). `error_notified_at`
// records that the owner was told the active script failed at delivery, so a broken script tells them
// once, not once per message; saving the script again clears it.
import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('sieve_scripts'), dialect)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('name', 'text', notNull)
    .addColumn('content', 'text', notNull)
    .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'bigint', notNull)
    .addColumn('error_notified_at', 'bigint')
    .addUniqueConstraint('sieve_scripts_name', ['principal_id', 'name'])
    .execute();
  // At most one active script per user, kept by the database whatever two writers do at once.
  await db.schema
    .createIndex('sieve_scripts_active')
    .on('sieve_scripts')
    .column('principal_id')
    .unique()
    .where(sql.ref('is_active'), '=', 1)
    .execute();
}
