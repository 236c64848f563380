// Settings a tenant's administrator sets for the whole organisation (`holdfast tenant set`), one row
// per setting, and secrets the server keeps for itself across nodes (the SRS key that signs the
// envelope senders of forwarded mail, docs/rules.md).
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>, _dialect: Dialect) {
  await db.schema
    .createTable('tenant_settings')
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', notNull)
    .addColumn('value', 'text', notNull)
    .addColumn('updated_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('tenant_settings_pk', ['tenant_id', 'name'])
    .execute();
  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();
}
