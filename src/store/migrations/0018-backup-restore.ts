// What backups and restores need from the store (issue 18).
//
// `content_holds`: while a backup copies the contents its snapshot refers to, the content collector
// (store/content-collector.ts) must not delete one of them, though its last message may be expunged
// meanwhile. A backup holds a row here and renews its expiry; the collector deletes nothing while
// a row has not expired. A backup that dies leaves a row that expires by itself.
//
// `calendars.sync_floor`: sync tokens below it were issued before a restore (of an older state than
// clients may have seen), so they are answered with DAV:valid-sync-token and the client syncs in full
// (RFC 6578 3.2). A restore raises each calendar's sync_seq and sync_floor past any token issued before.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('content_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable('calendars')
    .addColumn('sync_floor', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}
