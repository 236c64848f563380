// Finding the messages and queue entries that still use a content, so that content nothing uses any
// more can be deleted (store/content-collector.ts).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema.createIndex('messages_blob').on('messages').column('blob_hash').execute();
  await db.schema.createIndex('queue_messages_blob').on('queue_messages').column('blob_hash').execute();
}
