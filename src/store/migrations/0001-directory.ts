// Directory (forests, tenants, domains, principals, addresses, groups) and the in-database blob store.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { binaryType, notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('forests'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('max_connections', 'bigint', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();

  await withId(db.schema.createTable('tenants'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('forest_id', 'bigint', (c) => c.notNull().references('forests.id'))
    .addColumn('created_at', 'bigint', notNull)
    .execute();

  await withId(db.schema.createTable('domains'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();

  await withId(db.schema.createTable('principals'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('kind', 'text', notNull)
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text')
    .addColumn('password_hash', 'text')
    .addColumn('role', 'text', notNull)
    .addColumn('quota_bytes', 'bigint')
    .addColumn('created_at', 'bigint', notNull)
    .execute();
  await db.schema.createIndex('principals_tenant').on('principals').columns(['tenant_id', 'kind']).execute();

  await db.schema
    .createTable('addresses')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('domain_id', 'bigint', (c) => c.notNull().references('domains.id'))
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('kind', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();
  await db.schema.createIndex('addresses_principal').on('addresses').column('principal_id').execute();
  await db.schema.createIndex('addresses_domain').on('addresses').column('domain_id').execute();

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('member_address', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'member_address'])
    .execute();
  await db.schema.createIndex('group_members_member').on('group_members').column('member_address').execute();

  await db.schema
    .createTable('blobs')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('chunks_key', 'text', notNull)
    .addColumn('size', 'bigint', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();
  await db.schema
    .createTable('blob_chunks')
    .addColumn('chunks_key', 'text', notNull)
    .addColumn('seq', 'bigint', notNull)
    .addColumn('data', binaryType(dialect), notNull)
    .addPrimaryKeyConstraint('blob_chunks_pk', ['chunks_key', 'seq'])
    .execute();
}
