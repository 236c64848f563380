// The header lines Holdfast added to messages on receipt (Return-Path, Delivered-To, Received,
// Authentication-Results, …: the row's prefix, kept apart from the shared content), read for a
// header search that must see every field of a message's header, not only the content's. Read in
// batches of UIDs and narrowed by the database to the prefixes that hold the field's name, so a
// large folder costs a few queries and little memory.
import { sql, type Kysely } from 'kysely';
import { batches } from '../store/batches.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';

/**
 * The prefixes of these messages of a folder (by UID) that contain `name` (ASCII: compared without
 * case); messages with no prefix, or one without it, are left out.
 */
export async function prefixesNaming(
  store: { db: Kysely<Database>; dialect: Dialect },
  folderId: number,
  uids: number[],
  name: string,
): Promise<Map<number, string>> {
  const like = store.dialect === 'sqlite' ? sql.raw('like') : sql.raw('ilike');
  const pattern = `%${name.replace(/[!%_]/g, '!$&')}%`;
  const out = new Map<number, string>();
  for (const batch of batches([...uids].sort((a, b) => a - b))) {
    const rows = await store.db
      .selectFrom('messages')
      .select(['uid', 'prefix'])
      .where('mailbox_id', '=', folderId)
      .where('uid', 'in', batch)
      .where(sql<boolean>`prefix ${like} ${pattern} escape '!'`)
      .execute();
    for (const row of rows) out.set(Number(row.uid), row.prefix);
  }
  return out;
}
