// JMAP Email and Thread ids that outlive a move (RFC 8621 4.1.1: an Email's id is immutable).
//
// messages.email_id: the Email a row holds. A new message takes its own row id (ids are never reused,
// on either database), and a move (IMAP MOVE, JMAP mailboxIds) carries it to the row in the target
// folder; a copy is a new Email. messages.thread_id: the conversation, named by the email_id of the
// message that began it (mailbox/conversation-threads.ts places each new message).
// messages.message_key / root_key: what that placement looks up — hashes of the row's own Message-ID
// and of its conversation's first one, each scoped to the account; null when the message has none
// (and for every row older than this migration: a reply to such a message starts a thread of its own).
// mailbox_expunges.email_id / thread_id: which Email and Thread an expunge took, so that /changes can
// tell a move (an Email leaving one folder and entering another) from a destroy.
//
// Existing rows: email_id = thread_id = id, one UPDATE of the whole table (see docs/jmap.md on its
// cost); new rows set them on insert (mailbox/append.ts).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  for (const column of ['email_id', 'thread_id'])
    await db.schema
      .alterTable('messages')
      .addColumn(column, 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
  for (const column of ['message_key', 'root_key'])
    await db.schema.alterTable('messages').addColumn(column, 'bigint').execute();
  for (const column of ['email_id', 'thread_id'])
    await db.schema.alterTable('mailbox_expunges').addColumn(column, 'bigint').execute();
  // A migration may rewrite rows without a new modseq: a backup's segments name the schema version.
  await sql`update messages set email_id = id, thread_id = id`.execute(db);
  // Email/get by id, Thread/get by thread, and the placement of a new message: each an indexed probe.
  await db.schema.createIndex('messages_email').on('messages').column('email_id').execute();
  await db.schema.createIndex('messages_thread').on('messages').column('thread_id').execute();
  // Partial: rows without a Message-ID (and every older row) take no room in them.
  await sql`create index messages_message_key on messages (message_key) where message_key is not null`.execute(db);
  await sql`create index messages_root_key on messages (root_key) where root_key is not null`.execute(db);
}
