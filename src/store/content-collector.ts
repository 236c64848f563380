// Deletes message content that nothing uses any more: no mailbox message, no queue entry and no JMAP
// upload refers to it (a user expunged the last copy, the queue entry of mail delivered elsewhere was
// purged, an upload expired).
// Content is shared by hash, so it can only go once its last user is gone, and a new message may
// start to use it again at any moment; three rules keep that safe:
//
// - a content is deleted only when it has had no user on two rounds at least a minute apart (what
//   is between reading a message and committing its copy, as in IMAP COPY, is far shorter);
// - only content last stored more than an hour ago, checked by the blob store atomically with
//   put() (a put of existing content marks it stored again), so mail being accepted keeps its content;
// - its metadata and search text go only after the content itself is gone.
//
// And nothing is deleted while a backup holds the contents (`content_holds`, migration 18): its
// snapshot may refer to a content whose last message was expunged since, and the backup has yet to
// copy it. The hold is checked before each deletion; a round that meets one keeps its candidates.
//
// Candidates come from the queue purge (flow/queue/queue-retention.ts) and from a walk through all stored
// metadata, a batch per round, so contents of expunged messages are found too.
//
// It runs on one node (the singleton "housekeeping"): its `fence` runs before the first deletion and
// in each transaction that drops metadata, so a node that lost the lease stops within one content.
// Deleting is safe whoever does it (the rules above are checked at each deletion); the fence keeps
// two nodes from doing the same work.
import type { Kysely, Transaction } from 'kysely';
import type { BlobStore } from './blobs/blob-store.ts';
import { batches } from './batches.ts';
import type { Database } from './schema.ts';

const unusedForMs = 60_000;
const storedAgoMs = 3_600_000;
const walkBatch = 500;
const maxDeletedPerRound = 2_000;

/** A singleton job's check before it writes (cluster/leader-lease.ts): throws when its lease is gone. */
export type WriteFence = (trx: Transaction<Database>) => Promise<void>;

export class ContentCollector {
  /** Content without users, and when it was first seen so. */
  private readonly candidates = new Map<string, number>();
  private walkAfter = '';

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
  ) {}

  /** Contents whose users may all be gone (checked before anything is deleted). */
  consider(hashes: Iterable<string>, now: number) {
    for (const hash of hashes) if (!this.candidates.has(hash)) this.candidates.set(hash, now);
  }

  /** One round: walks the next batch of stored contents, then deletes the candidates due. Returns how many were deleted. */
  async collect(now: number, fence?: WriteFence): Promise<number> {
    await this.walk(now);
    const due = [...this.candidates]
      .filter(([, since]) => since <= now - unusedForMs)
      .slice(0, maxDeletedPerRound)
      .map(([hash]) => hash);
    // Due candidates leave the list whatever becomes of them; one that found a user again is found
    // anew if that user goes. Those a backup's hold kept from being looked at stay.
    for (const hash of due) this.candidates.delete(hash);
    const { deleted, held } = await deleteUnused(this.db, this.blobs, due, now - storedAgoMs, now, fence);
    for (const hash of held) this.candidates.set(hash, now - unusedForMs);
    return deleted;
  }

  private async walk(now: number) {
    const rows = await this.db
      .selectFrom('blob_metadata')
      .select('hash')
      .where('hash', '>', this.walkAfter)
      .orderBy('hash')
      .limit(walkBatch)
      .execute();
    this.walkAfter = rows.length === walkBatch ? rows.at(-1)!.hash : '';
    const hashes = rows.map((r) => r.hash);
    const used = await contentsInUse(this.db, hashes);
    this.consider(
      hashes.filter((h) => !used.has(h)),
      now,
    );
  }
}

/**
 * Deletes those of `hashes` that no mailbox message or queue entry uses and that were last stored
 * before `storedBefore`, with their metadata and search text. Returns how many it deleted.
 */
export async function deleteUnusedContents(
  db: Kysely<Database>,
  blobs: BlobStore,
  hashes: string[],
  storedBefore: number,
  fence?: WriteFence,
  now = Date.now(),
): Promise<number> {
  return (await deleteUnused(db, blobs, hashes, storedBefore, now, fence)).deleted;
}

/** deleteUnusedContents, also returning the hashes it left alone because a backup holds contents. */
async function deleteUnused(
  db: Kysely<Database>,
  blobs: BlobStore,
  hashes: string[],
  storedBefore: number,
  now: number,
  fence?: WriteFence,
): Promise<{ deleted: number; held: string[] }> {
  const used = await contentsInUse(db, hashes);
  if (fence && hashes.some((h) => !used.has(h))) await db.transaction().execute(fence);
  let deleted = 0;
  for (const [index, hash] of hashes.entries()) {
    if (used.has(hash)) continue;
    // Checked after contentsInUse: a backup whose hold began later took its snapshot later, when
    // this content had no user either.
    if (await contentHeld(db, now)) return { deleted, held: hashes.slice(index) };
    await blobs.deleteIfStoredBefore(hash, storedBefore);
    if (await blobs.has(hash)) continue; // stored again meanwhile: about to be used
    await db.transaction().execute(async (trx) => {
      await fence?.(trx);
      await trx.deleteFrom('blob_metadata').where('hash', '=', hash).execute();
    });
    deleted++;
  }
  return { deleted, held: [] };
}

/** Whether a backup holds contents now (a hold not yet expired). */
export async function contentHeld(db: Kysely<Database>, now: number): Promise<boolean> {
  const row = await db
    .selectFrom('content_holds')
    .select('id')
    .where('expires_at', '>', now)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Those of `hashes` that a mailbox message, a queue entry, a JMAP upload or a quarantined message
 * refers to (an upload row, expired or not, until housekeeping deletes it and hands its content back
 * to the collector).
 */
async function contentsInUse(db: Kysely<Database>, hashes: string[]): Promise<Set<string>> {
  const used = new Set<string>();
  for (const batch of batches(hashes)) {
    // quarantine: messages held by the spam and malware filter (migration 30, filtering/quarantine.ts).
    for (const table of ['messages', 'queue_messages', 'jmap_uploads', 'quarantine'] as const) {
      const rows = await db
        .withTables<{ quarantine: { blob_hash: string } }>()
        .selectFrom(table)
        .select('blob_hash')
        .distinct()
        .where('blob_hash', 'in', batch)
        .execute();
      for (const row of rows) used.add(row.blob_hash);
    }
  }
  return used;
}
