// JMAP sending (RFC 8621 6-7): the identities a user sends as (name, Reply-To, Bcc and signatures for
// an address they may send from) and the EmailSubmission records of what they sent through JMAP, each
// naming the queue entry that carries it. Both keep a per-principal MODSEQ (raised by every change, a
// destroyed row kept as a tombstone), which is the JMAP state /changes reads.
// API tokens get a scope: `admin` (the admin and health API, what they were so far) or `jmap` (a
// user's app token for JMAP), so that neither kind opens the other's door.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('jmap_identities'), dialect)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('email', 'text', notNull)
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('reply_to', 'text') // JSON: EmailAddress[] or null
    .addColumn('bcc', 'text') // JSON: EmailAddress[] or null
    .addColumn('text_signature', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('html_signature', 'text', (c) => c.notNull().defaultTo(''))
    // Made by the server for an address the user may send as (their own, a send-as grant): not deletable.
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_modseq', 'bigint', notNull)
    .addColumn('modseq', 'bigint', notNull)
    .addColumn('destroyed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('jmap_identities_principal')
    .on('jmap_identities')
    .columns(['principal_id', 'modseq'])
    .execute();

  await withId(db.schema.createTable('jmap_submissions'), dialect)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('identity_id', 'bigint', notNull)
    .addColumn('email_id', 'text', notNull)
    .addColumn('thread_id', 'text', notNull)
    // The queue entry (no foreign key: the queue purges finished mail after [queue] keep_finished).
    .addColumn('queue_message_id', 'bigint', notNull)
    .addColumn('envelope', 'text', notNull) // JSON: {mailFrom, rcptTo}
    .addColumn('send_at', 'bigint', notNull)
    .addColumn('created_modseq', 'bigint', notNull)
    .addColumn('modseq', 'bigint', notNull)
    .addColumn('destroyed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('jmap_submissions_principal')
    .on('jmap_submissions')
    .columns(['principal_id', 'modseq'])
    .execute();

  await db.schema
    .alterTable('api_tokens')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('admin'))
    .execute();
}
