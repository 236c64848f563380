// An index on blob_metadata.created_at: a backup dumps that table (about 1 KB per message, the
// largest after the contents) in segments by creation time, and writes again only the segments
// that changed since the previous backup (backup/table-segments.ts), each read by a range of it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema.createIndex('blob_metadata_created').on('blob_metadata').column('created_at').execute();
}
