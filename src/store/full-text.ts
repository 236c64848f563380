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

/** PostgreSQL only: indexes several contents' text in one statement (indexText for each, at once). */
export async function indexTexts(db: Kysely<Database>, items: { hash: string; text: string }[]): Promise<void> {
  if (items.length === 0) return;
  await sql`insert into blob_text (hash, body)
    select t.hash, to_tsvector('simple', t.body) from unnest(${items.map((i) => i.hash)}::text[], ${items.map((i) => i.text)}::text[]) as t(hash, body)
    on conflict do nothing`.execute(db);
}

/** Removes a content's text, when the content itself goes. */
export async function dropText(db: Kysely<Database>, hash: string): Promise<void> {
  await sql`delete from blob_text where hash = ${hash}`.execute(db);
}
