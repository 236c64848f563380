// The full-text index of message contents, one row per content hash in `blob_text` (migration 5):
// FTS5 on SQLite, a tsvector of the 'simple' configuration on PostgreSQL. The SQL of both lives here.
// SEARCH does not read it: BODY and TEXT match substrings, which word indexes cannot decide
// (mailbox/body-text.ts).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './database.ts';
import type { Database } from './schema.ts';

/** Indexes a content's text; called once per content, with its metadata. */
export async function indexText(db: Kysely<Database>, dialect: Dialect, hash: string, text: string): Promise<void> {
  if (dialect === 'sqlite') await sql`insert into blob_text (hash, body) values (${hash}, ${text})`.execute(db);
  else
    await sql`insert into blob_text (hash, body) values (${hash}, to_tsvector('simple', ${text})) on conflict do nothing`.execute(
      db,
    );
}

/** Removes a content's text, when the content itself goes. */
export async function dropText(db: Kysely<Database>, hash: string): Promise<void> {
  await sql`delete from blob_text where hash = ${hash}`.execute(db);
}
