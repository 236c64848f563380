// Blobs a JMAP client uploaded (RFC 8620 6.1; protocols/jmap/jmap-uploads.ts): the content is in the
// blob store, content-addressed as message contents are, and an upload row (`jmap_uploads`, migration
// 26) names it for one account until it expires, a day after the upload. While a row exists the
// content collector leaves its content alone (store/content-collector.ts); housekeeping deletes
// expired rows and hands their contents to the collector (flow/queue/housekeeping.ts).
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

/** How long an upload may be used (RFC 8620 6.1: at least an hour; 24 hours is typical). */
export const uploadLifetimeMs = 24 * 3_600_000;
/** Rows housekeeping deletes per round at most. */
const purgeBatch = 1_000;

export interface Upload {
  id: number;
  blobHash: string;
  type: string;
  size: number;
}

/** The upload with this id in the principal's account, unless it expired. */
export async function findUpload(
  db: Kysely<Database>,
  principalId: number,
  id: number,
  now: number,
): Promise<Upload | undefined> {
  const row = await db
    .selectFrom('jmap_uploads')
    .select(['id', 'blob_hash', 'type', 'size'])
    .where('id', '=', id)
    .where('principal_id', '=', principalId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row && { id: Number(row.id), blobHash: row.blob_hash, type: row.type, size: Number(row.size) };
}

/**
 * Deletes up to a batch of expired upload rows; returns the contents they named, for the content
 * collector (which deletes those nothing else uses). `fence` runs first in the deleting transaction.
 */
export async function purgeExpiredUploads(
  db: Kysely<Database>,
  now: number,
  fence?: (trx: Transaction<Database>) => Promise<void>,
): Promise<string[]> {
  const rows = await db
    .selectFrom('jmap_uploads')
    .select(['id', 'blob_hash'])
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(purgeBatch)
    .execute();
  if (!rows.length) return [];
  await db.transaction().execute(async (trx) => {
    await fence?.(trx);
    await trx
      .deleteFrom('jmap_uploads')
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
  });
  return [...new Set(rows.map((r) => r.blob_hash))];
}

/** Records an upload of stored content for the principal; returns the row id. */
export async function insertUpload(
  db: Kysely<Database>,
  upload: { principalId: number; blobHash: string; type: string; size: number },
  now: number,
): Promise<number> {
  const row = await db
    .insertInto('jmap_uploads')
    .values({
      principal_id: upload.principalId,
      blob_hash: upload.blobHash,
      type: upload.type,
      size: upload.size,
      created_at: now,
      expires_at: now + uploadLifetimeMs,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}
