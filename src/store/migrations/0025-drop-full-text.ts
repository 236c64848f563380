// Drops the full-text index of message contents (blob_text, from migration 5: FTS5 on SQLite, a
// tsvector on PostgreSQL). Nothing read it: IMAP SEARCH, and JMAP's filters with it, match
// substrings, inside words too, which a word index cannot decide (mailbox/body-text.ts). Yet every
// new content paid for it at delivery (its text decoded and tokenized in the delivery's
// transaction), and it was the largest thing in a store after the contents (about 1.2 KB per
// message). A search that can use an index will build one of its own from the contents.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  // On SQLite dropping the FTS5 table drops its shadow tables (blob_text_data, …) with it.
  await sql`drop table if exists blob_text`.execute(db);
}
