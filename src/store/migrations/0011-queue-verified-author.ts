// The author a queued message was proved to come from (its one From address, when its domain passed
// aligned SPF or DKIM, a trusted relay passed it on, or a signed-in user sent it). Delivery lets
// calendar messages (iTIP) change a meeting only when they come, proved, from its organizer or the
// answering attendee: never by UID alone.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema.alterTable('queue_messages').addColumn('verified_from', 'text').execute();
}
