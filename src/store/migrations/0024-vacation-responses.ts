// Automatic replies (vacation responses, RFC 8621 8 and RFC 5230): one row of settings per user, and
// the senders answered lately, so that each is answered once per `days` (the :days of RFC 5230). The
// second table stays small: rows older than their window are dropped whenever the user answers
// again, all of them when the response is turned off or changed, and a user's rows are capped
// (mailbox/vacation.ts).
import type { Kysely } from 'kysely';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('vacation_responses')
    .addColumn('principal_id', 'bigint', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
    .addColumn('is_enabled', 'integer', notNull)
    .addColumn('from_date', 'bigint')
    .addColumn('to_date', 'bigint')
    .addColumn('subject', 'text')
    .addColumn('text_body', 'text')
    .addColumn('html_body', 'text')
    .addColumn('days', 'integer', (c) => c.notNull().defaultTo(7))
    .addColumn('updated_at', 'bigint', notNull)
    .execute();
  await db.schema
    .createTable('vacation_replies')
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('sender', 'text', notNull)
    .addColumn('replied_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('vacation_replies_pk', ['principal_id', 'sender'])
    .execute();
  await db.schema
    .createIndex('vacation_replies_age')
    .on('vacation_replies')
    .columns(['principal_id', 'replied_at'])
    .execute();
}
