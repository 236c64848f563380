// \Recent of IMAP4rev1 (RFC 3501 2.3.2) kept with the folder, as Dovecot keeps first_recent_uid in its
// index: it survives a restart and every node of a cluster shares it. `recent_from_uid` is the lowest
// UID still recent to the next session that SELECTs the folder; it only grows. `recent_claim_from` is
// where the last claim began: the claiming UPDATE copies the old `recent_from_uid` there while it
// raises it, and returns both, so one statement tells the claimer which UIDs it took (RETURNING shows
// only new values, on SQLite and PostgreSQL alike). See claimRecent in mailbox/folders.ts.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .alterTable('mailboxes')
    .addColumn('recent_from_uid', 'bigint', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .alterTable('mailboxes')
    .addColumn('recent_claim_from', 'bigint', (c) => c.notNull().defaultTo(1))
    .execute();
  // Mail already in a folder is not recent: the server kept \Recent in memory until now, and counted
  // only mail that arrived after its start, so after this upgrade (a restart) nothing present is new.
  await sql`update mailboxes set recent_from_uid = uidnext, recent_claim_from = uidnext`.execute(db);
}
