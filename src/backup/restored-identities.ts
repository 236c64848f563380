// What a loaded store needs before it serves. Always: each folder's byte count (kept by triggers that
// counted the rows as they were loaded, on top of the counts loaded with the folders) and, on
// PostgreSQL, identity sequences past the loaded ids. After a restore also new identities for
// what clients cache: the restored state may be older than what they have seen, so each folder
// gets a new UIDVALIDITY (the client drops the UIDs it knows and fetches the folder again, RFC 3501
// 2.3.1.1; a QRESYNC client's remembered state no longer matches either) and each calendar and
// address book a sync floor past every token issued before, so an old token is answered with
// DAV:valid-sync-token and the client syncs in full (RFC 6578 3.2). A copy of a store taken while nothing serves keeps them.
import { sql, type Transaction } from 'kysely';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { quoteIdentifier } from './sql-names.ts';

export async function recountFolderBytes(trx: Transaction<Database>): Promise<void> {
  await sql`update mailboxes set used_bytes = (select coalesce(sum(size), 0) from messages where messages.mailbox_id = mailboxes.id)`.execute(
    trx,
  );
}

/** PostgreSQL: each identity column's sequence continues after the highest id loaded. */
export async function setSequencesPastIds(trx: Transaction<Database>): Promise<void> {
  const { rows } = await sql<{ table: string; column: string }>`select table_name as "table", column_name as "column"
    from information_schema.columns where table_schema = current_schema() and is_identity = 'YES'`.execute(trx);
  for (const { table, column } of rows) {
    const t = quoteIdentifier(table);
    const c = quoteIdentifier(column);
    await sql
      .raw(`select setval(pg_get_serial_sequence('${t}', '${column}'), coalesce(max(${c}), 0) + 1, false) from ${t}`)
      .execute(trx);
  }
}

/**
 * New UIDVALIDITY for every folder and a new sync floor for every calendar, both from `now` and past
 * any value the restored state holds. Returns how many of each.
 */
export async function renewClientIdentities(
  trx: Transaction<Database>,
  dialect: Dialect,
  now: number,
): Promise<{ folders: number; calendars: number }> {
  const greatest = dialect === 'sqlite' ? 'max' : 'greatest';
  const seconds = Math.floor(now / 1000);
  // One value per principal, above the clock, the principal's floor and every value its folders
  // hold: UIDVALIDITY only has to differ from what a client knows for the same folder name.
  await sql`update principals set uidvalidity_floor = ${sql.raw(greatest)}(
      ${seconds}, uidvalidity_floor + 1,
      coalesce((select max(uidvalidity) from mailboxes where mailboxes.principal_id = principals.id), 0) + 1)
    where exists (select 1 from mailboxes where mailboxes.principal_id = principals.id)`.execute(trx);
  const folders =
    await sql`update mailboxes set uidvalidity = (select uidvalidity_floor from principals where principals.id = mailboxes.principal_id)`.execute(
      trx,
    );
  // Change numbers count writes, one at a time; the clock in milliseconds is past any a calendar
  // reached before (that would take more than a write per millisecond since the last restore).
  const calendars =
    await sql`update calendars set sync_floor = ${sql.raw(greatest)}(sync_seq + 1, ${now}), sync_seq = ${sql.raw(greatest)}(sync_seq + 1, ${now})`.execute(
      trx,
    );
  // Address books (migration 29) keep their sync tokens the same way.
  await sql`update address_books set sync_floor = ${sql.raw(greatest)}(sync_seq + 1, ${now}), sync_seq = ${sql.raw(greatest)}(sync_seq + 1, ${now})`.execute(
    trx,
  );
  return { folders: Number(folders.numAffectedRows ?? 0), calendars: Number(calendars.numAffectedRows ?? 0) };
}
