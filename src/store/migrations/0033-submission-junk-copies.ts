// A JMAP submission whose local recipients the spam filter split between the INBOX and Junk has two
// queue entries (flow/local-submission.ts): the Junk copies' entry is kept beside the first, so that
// deliveryStatus reports every recipient (RFC 8621 7), not only those of the first entry.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';

export async function up(db: Kysely<any>, _dialect: Dialect) {
  await db.schema.alterTable('jmap_submissions').addColumn('junk_queue_message_id', 'bigint').execute();
}
