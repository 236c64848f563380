// Rights one principal has on another's mailbox: full access (open it) and send-as (send from its
// addresses), as Exchange grants them on shared mailboxes.
import type { Kysely } from 'kysely';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('mailbox_grants')
    .addColumn('target_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('grantee_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('full_access', 'integer', notNull)
    .addColumn('send_as', 'integer', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('mailbox_grants_pk', ['target_id', 'grantee_id'])
    .execute();
  await db.schema.createIndex('mailbox_grants_grantee').on('mailbox_grants').column('grantee_id').execute();
}
