// JMAP uploads (RFC 8620 6.1): a blob a client uploaded, to import as a message or attach to a draft.
// The content itself is in the blob store, content-addressed like message contents; a row names it
// for one account until it expires (a day after the upload). While a row exists the content
// collector leaves the content alone (store/content-collector.ts); housekeeping deletes expired rows
// and hands their contents to the collector (flow/queue/housekeeping.ts). Rows are not backed up:
// they are short-lived (backup/table-catalog.ts).
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('jmap_uploads'), dialect)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('blob_hash', 'text', notNull)
    .addColumn('type', 'text', notNull)
    .addColumn('size', 'bigint', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('expires_at', 'bigint', notNull)
    .execute();
  await db.schema.createIndex('jmap_uploads_expiry').on('jmap_uploads').column('expires_at').execute();
  await db.schema.createIndex('jmap_uploads_content').on('jmap_uploads').column('blob_hash').execute();
}
