// Spam and malware filtering (docs/filtering.md): messages held in quarantine instead of delivered,
// one row per recipient mailbox with the reason and score, kept `filtering.quarantine_retention`
// (30 days) and released into the INBOX or deleted by an administrator; the allow and block lists
// of senders (an address or a domain), per tenant (principal_id null) or per user; and users whose
// submitted mail rspamd took for spam (outbound_spam: strikes within an hour, and when their sending
// was paused, until an administrator resumes it). All are carried by backups; quarantined contents are kept by the content collector and backed up like
// messages' (store/content-collector.ts, backup/snapshot-shape.ts).
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('quarantine'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('recipient', 'text', notNull)
    .addColumn('sender', 'text', notNull)
    .addColumn('subject', 'text')
    .addColumn('message_id', 'text')
    .addColumn('blob_hash', 'text', notNull)
    .addColumn('prefix', 'text', notNull)
    .addColumn('size', 'bigint', notNull)
    .addColumn('reason', 'text', notNull)
    .addColumn('detail', 'text', notNull)
    .addColumn('score', 'double precision')
    .addColumn('client_ip', 'text', notNull)
    .addColumn('received_at', 'bigint', notNull)
    .addColumn('expires_at', 'bigint', notNull)
    .addColumn('notified_at', 'bigint')
    .execute();
  await db.schema.createIndex('quarantine_tenant').on('quarantine').columns(['tenant_id', 'received_at']).execute();
  await db.schema.createIndex('quarantine_principal').on('quarantine').column('principal_id').execute();
  await db.schema.createIndex('quarantine_expiry').on('quarantine').column('expires_at').execute();
  await db.schema.createIndex('quarantine_content').on('quarantine').column('blob_hash').execute();

  await withId(db.schema.createTable('sender_lists'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_id', 'bigint', (c) => c.references('principals.id').onDelete('cascade'))
    .addColumn('list', 'text', notNull)
    .addColumn('sender', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .execute();
  await db.schema.createIndex('sender_lists_sender').on('sender_lists').columns(['tenant_id', 'sender']).execute();

  await db.schema
    .createTable('outbound_spam')
    .addColumn('principal_id', 'bigint', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('strikes', 'integer', notNull)
    .addColumn('first_strike_at', 'bigint', notNull)
    .addColumn('last_detail', 'text', notNull)
    .addColumn('paused_at', 'bigint')
    .execute();
}
