// What IMAP (and later JMAP) needs beyond the mailbox model of 0002: message metadata computed once
// per content (MIME tree with offsets, envelope, header fields), full-text search over the text of
// each content, and the expunge log that lets a client resynchronise by MODSEQ (QRESYNC VANISHED).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  // Keyed by content: every mailbox holding the same message shares one row.
  await db.schema
    .createTable('blob_metadata')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('tree', 'text', notNull) // JSON MimePart
    .addColumn('envelope', 'text', notNull) // JSON Envelope
    .addColumn('headers', 'text', notNull) // JSON [name, decoded value][] of the top-level header, for SEARCH
    .addColumn('sent_at', 'bigint') // the Date header, for SENTBEFORE/SENTON/SENTSINCE
    .addColumn('created_at', 'bigint', notNull)
    .execute();

  if (dialect === 'sqlite') {
    await sql`create virtual table blob_text using fts5(hash unindexed, body, tokenize = 'unicode61 remove_diacritics 2')`.execute(
      db,
    );
  } else {
    await db.schema
      .createTable('blob_text')
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('body', sql`tsvector`, notNull)
      .execute();
    await sql`create index blob_text_body on blob_text using gin (body)`.execute(db);
  }

  await db.schema
    .createTable('mailbox_expunges')
    .addColumn('mailbox_id', 'bigint', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('uid', 'bigint', notNull)
    .addColumn('modseq', 'bigint', notNull)
    .execute();
  await db.schema
    .createIndex('mailbox_expunges_modseq')
    .on('mailbox_expunges')
    .columns(['mailbox_id', 'modseq'])
    .execute();
  await db.schema.createIndex('messages_mailbox_modseq').on('messages').columns(['mailbox_id', 'modseq']).execute();
  await db.schema.createIndex('mailboxes_tenant').on('mailboxes').columns(['tenant_id']).execute();
}
