// What outlives a folder (IMAP, issue 14 items 7 and 8). `principals.uidvalidity_floor` is the last
// UIDVALIDITY given to any of the principal's folders and never decreases, so a folder deleted and
// created again under its name gets a new one, even within a second and even when the deleted folder
// held the highest. `folder_subscriptions` keeps subscriptions to names that have no folder (any more):
// RFC 3501 6.3.9 makes DELETE leave the subscription, and LIST (SUBSCRIBED) shows it as \NonExistent.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .alterTable('principals')
    .addColumn('uidvalidity_floor', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update principals set uidvalidity_floor = coalesce((select max(uidvalidity) from mailboxes where mailboxes.principal_id = principals.id), 0)`.execute(
    db,
  );
  await db.schema
    .createTable('folder_subscriptions')
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('folder_subscriptions_pk', ['principal_id', 'name'])
    .execute();
}
