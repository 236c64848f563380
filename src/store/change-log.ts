// The change log behind WebDAV sync tokens (RFC 6578), shared by calendars and address books. A
// collection's row carries `sync_seq`, the number of its last change (the sync token and CTag); the
// log table holds one row per member name that ever changed, with the number of the change that
// last touched it and whether that change deleted it. Both are written in the transaction of the
// change itself, so a client syncing by token never misses one.
import type { Kysely, Transaction } from 'kysely';

export interface ChangeLog {
  /** The collections' table, with `id` and `sync_seq`. */
  collections: string;
  /** The log's table, with the collection column, `uri`, `seq` and `deleted`. */
  changes: string;
  /** The log's column naming the collection. */
  collectionColumn: string;
}

/** Takes the collection's next change number and records that `uri` changed with it. */
export async function recordChange(
  // biome-ignore lint/suspicious/noExplicitAny: the tables are named by `log`, whichever they are
  trx: Transaction<any>,
  log: ChangeLog,
  collectionId: number,
  uri: string,
  deleted: boolean,
): Promise<number> {
  // Updating the collection's row first also serialises concurrent writers to it (PostgreSQL row lock).
  const { sync_seq: seq } = await trx
    .updateTable(log.collections)
    .set((eb) => ({ sync_seq: eb('sync_seq', '+', 1) }))
    .where('id', '=', collectionId)
    .returning('sync_seq')
    .executeTakeFirstOrThrow();
  const flag = deleted ? 1 : 0;
  await trx
    .insertInto(log.changes)
    .values({ [log.collectionColumn]: collectionId, uri, seq, deleted: flag })
    .onConflict((oc) => oc.columns([log.collectionColumn, 'uri']).doUpdateSet({ seq, deleted: flag }))
    .execute();
  return Number(seq);
}

/** What changed after change number `since`: names still present, and names deleted. */
export async function changesSince(
  // biome-ignore lint/suspicious/noExplicitAny: the tables are named by `log`, whichever they are
  db: Kysely<any>,
  log: ChangeLog,
  collectionId: number,
  since: number,
): Promise<{ changed: string[]; deleted: string[] }> {
  const rows: { uri: string; deleted: number }[] = await db
    .selectFrom(log.changes)
    .select(['uri', 'deleted'])
    .where(log.collectionColumn, '=', collectionId)
    .where('seq', '>', since)
    .orderBy('seq')
    .execute();
  return {
    changed: rows.filter((r) => !r.deleted).map((r) => r.uri),
    deleted: rows.filter((r) => r.deleted).map((r) => r.uri),
  };
}
