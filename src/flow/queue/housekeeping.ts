// Once a minute, on one node of those that run the queue (server/queue-service.ts runs it as the
// singleton "housekeeping"): finished mail past `[queue] keep_finished` leaves the queue tables,
// expired JMAP uploads are forgotten, and content that nothing uses any more is deleted. Work per round is bounded, so a large backlog (the
// first round after an upgrade) is worked off over several rounds. Each deleting transaction first
// runs the round's fence, so a node that lost the singleton's lease mid-round deletes nothing more.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { ContentCollector } from '../../store/content-collector.ts';
import { purgeExpiredUploads } from '../../mailbox/uploads.ts';
import type { Database } from '../../store/schema.ts';
import { purgeFinishedMail, type Fence } from './queue-retention.ts';

export interface HousekeepingDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  keepFinishedMs: number;
  logger: Logger;
  now(): number;
}

/** How often a round runs. */
export const housekeepingIntervalMs = 60_000;
// No more than the collector deletes per round (content-collector.ts), so its candidates stay few.
const maxPurgedPerRound = 2_000;

export class Housekeeping {
  private readonly collector: ContentCollector;

  constructor(private readonly deps: HousekeepingDeps) {
    this.collector = new ContentCollector(deps.db, deps.blobs);
  }

  /** One round; returns what it removed. `fence` runs first in each of its deleting transactions. */
  async round(fence?: Fence): Promise<{ purged: number; contentsDeleted: number }> {
    const now = this.deps.now();
    let purged = 0;
    while (purged < maxPurgedPerRound) {
      const batch = await purgeFinishedMail(this.deps.db, now - this.deps.keepFinishedMs, { fence });
      if (batch.purged === 0) break;
      purged += batch.purged;
      this.collector.consider(batch.hashes, now);
    }
    // Expired JMAP uploads: their rows go, their contents to the collector (which keeps those in use).
    this.collector.consider(await purgeExpiredUploads(this.deps.db, now, fence), now);
    const contentsDeleted = await this.collector.collect(now, fence);
    if (purged || contentsDeleted)
      this.deps.logger.info({ purged, contentsDeleted }, 'housekeeping: removed finished mail and unused content');
    return { purged, contentsDeleted };
  }
}
