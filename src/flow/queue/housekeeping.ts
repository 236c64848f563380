// Once a minute, on every node that runs the queue: finished mail past `[queue] keep_finished` leaves
// the queue tables, and content that nothing uses any more is deleted. Work per round is bounded, so
// a large backlog (the first round after an upgrade) is worked off over several rounds.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BlobStore } from '../../store/blobs/blob-store.ts';
import { ContentCollector } from '../../store/content-collector.ts';
import type { Database } from '../../store/schema.ts';
import { purgeFinishedMail } from './queue-retention.ts';

export interface HousekeepingDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  keepFinishedMs: number;
  logger: Logger;
  now(): number;
}

const intervalMs = 60_000;
// No more than the collector deletes per round (content-collector.ts), so its candidates stay few.
const maxPurgedPerRound = 2_000;

export class Housekeeping {
  private readonly collector: ContentCollector;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(private readonly deps: HousekeepingDeps) {
    this.collector = new ContentCollector(deps.db, deps.blobs);
  }

  start() {
    this.timer = setInterval(() => {
      this.running ??= this.round()
        .catch((error) => this.deps.logger.warn({ err: error }, 'housekeeping: round failed; trying again in a minute'))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round; returns what it removed. */
  async round(): Promise<{ purged: number; contentsDeleted: number }> {
    const now = this.deps.now();
    let purged = 0;
    while (purged < maxPurgedPerRound) {
      const batch = await purgeFinishedMail(this.deps.db, now - this.deps.keepFinishedMs);
      if (batch.purged === 0) break;
      purged += batch.purged;
      this.collector.consider(batch.hashes, now);
    }
    const contentsDeleted = await this.collector.collect(now);
    if (purged || contentsDeleted)
      this.deps.logger.info({ purged, contentsDeleted }, 'housekeeping: removed finished mail and unused content');
    return { purged, contentsDeleted };
  }
}
