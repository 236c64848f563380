// The header lines Holdfast added to messages on receipt (Return-Path, Delivered-To, Received,
// Authentication-Results, …: the row's prefix, kept apart from the shared content), read for a
// header search that must see every field of a message's header, not only the content's. Read a
// batch of UIDs at a time (one query per 500 messages, the memory of one batch) and narrowed by the
// database to the prefixes that hold the field's name.
import { sql, type Kysely } from 'kysely';
import { batches } from '../store/batches.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';

/**
 * The prefixes of these messages of a folder (by UID) that contain `name` (ASCII: compared without
 * case), a batch of UIDs at a time; messages with no prefix, or one without it, are left out.
 */
export async function* prefixesNaming(
  store: { db: Kysely<Database>; dialect: Dialect },
  folderId: number,
  uids: number[],
  name: string,
): AsyncGenerator<{ uid: number; prefix: string }[]> {
  const like = store.dialect === 'sqlite' ? sql.raw('like') : sql.raw('ilike');
  const pattern = `%${name.replace(/[!%_]/g, '!$&')}%`;
  for (const batch of batches([...uids].sort((a, b) => a - b))) {
    const rows = await store.db
      .selectFrom('messages')
      .select(['uid', 'prefix'])
      .where('mailbox_id', '=', folderId)
      .where('uid', 'in', batch)
      .where(sql<boolean>`prefix ${like} ${pattern} escape '!'`)
      .execute();
    yield rows.map((row) => ({ uid: Number(row.uid), prefix: row.prefix }));
  }
}
