// Mail flow (queue, recipients, trace) and the mailbox model local delivery writes into.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  // One accepted message: its content (prefix + blob) and envelope sender.
  await withId(db.schema.createTable('queue_messages'), dialect)
    .addColumn('blob_hash', 'text', notNull)
    /** Header lines Holdfast added on receipt (Received, Authentication-Results...), sent before the blob. */
    .addColumn('prefix', 'text', notNull)
    .addColumn('size', 'bigint', notNull)
    .addColumn('sender', 'text', notNull) // '' is the null reverse-path <>
    .addColumn('message_id', 'text')
    .addColumn('subject', 'text')
    .addColumn('source', 'text', notNull) // mx | submission | dsn
    .addColumn('client_ip', 'text')
    .addColumn('auth_principal_id', 'bigint')
    .addColumn('envid', 'text')
    .addColumn('ret', 'text')
    .addColumn('held', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('received_at', 'bigint', notNull)
    .execute();
  await db.schema
    .createIndex('queue_messages_sender')
    .on('queue_messages')
    .columns(['auth_principal_id', 'received_at'])
    .execute();
  await db.schema.createIndex('queue_messages_received').on('queue_messages').column('received_at').execute();

  // One recipient of a message, and where its delivery stands.
  await withId(db.schema.createTable('queue_recipients'), dialect)
    .addColumn('message_id', 'bigint', (c) => c.notNull().references('queue_messages.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint') // whose share of the queue this uses (fairness); null for outside senders to outside
    .addColumn('recipient', 'text', notNull)
    .addColumn('original_recipient', 'text', notNull)
    .addColumn('orcpt', 'text')
    .addColumn('notify', 'text') // DSN NOTIFY, e.g. "FAILURE,DELAY" or "NEVER"; null = default
    .addColumn('route', 'text', notNull) // local | remote
    .addColumn('domain', 'text', notNull)
    .addColumn('state', 'text', notNull) // queued | inflight | delivered | deferred | failed
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', notNull)
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('last_reply', 'text')
    .addColumn('last_attempt_at', 'bigint')
    .addColumn('delay_notified', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('updated_at', 'bigint', notNull)
    .execute();
  await db.schema
    .createIndex('queue_recipients_due')
    .on('queue_recipients')
    .columns(['state', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('queue_recipients_lease')
    .on('queue_recipients')
    .columns(['state', 'lease_expires_at'])
    .execute();
  await db.schema.createIndex('queue_recipients_message').on('queue_recipients').column('message_id').execute();
  await db.schema.createIndex('queue_recipients_domain').on('queue_recipients').columns(['domain', 'state']).execute();

  await withId(db.schema.createTable('trace_events'), dialect)
    .addColumn('message_id', 'bigint', (c) => c.notNull().references('queue_messages.id').onDelete('cascade'))
    .addColumn('recipient_id', 'bigint')
    .addColumn('at', 'bigint', notNull)
    .addColumn('event', 'text', notNull) // received | queued | attempt | deferred | delivered | bounced | held | released | expired
    .addColumn('detail', 'text', notNull) // JSON
    .execute();
  await db.schema.createIndex('trace_events_message').on('trace_events').columns(['message_id', 'at']).execute();

  await withId(db.schema.createTable('mailboxes'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('name', 'text', notNull)
    .addColumn('special_use', 'text')
    .addColumn('uidvalidity', 'bigint', notNull)
    .addColumn('uidnext', 'bigint', notNull)
    .addColumn('highest_modseq', 'bigint', notNull)
    .addColumn('subscribed', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('mailboxes_principal_name', ['principal_id', 'name'])
    .execute();

  await withId(db.schema.createTable('messages'), dialect)
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('mailbox_id', 'bigint', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('uid', 'bigint', notNull)
    .addColumn('blob_hash', 'text', notNull)
    .addColumn('prefix', 'text', notNull)
    .addColumn('size', 'bigint', notNull)
    .addColumn('flags', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('modseq', 'bigint', notNull)
    .addColumn('internal_date', 'bigint', notNull)
    /** Set by local delivery: the queue recipient it came from, so a redelivery cannot add a copy. */
    .addColumn('delivery_key', 'text')
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('messages_mailbox_uid', ['mailbox_id', 'uid'])
    .addUniqueConstraint('messages_mailbox_delivery', ['mailbox_id', 'delivery_key'])
    .execute();
}
