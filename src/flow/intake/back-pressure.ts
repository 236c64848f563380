// Back pressure: when the store's disk runs low or the queue passes its high watermark, new mail is
// answered "452 4.3.1 Insufficient system resources" until the queue falls below the low watermark
// (hysteresis, so it does not flap) and the disk has room again. Never an accept that cannot be kept.
import { statfs } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { waitingRecipients } from '../queue/queue-health.ts';
import { smtpReply } from './smtp-reply.ts';

export interface BackPressureOptions {
  db: Kysely<Database>;
  dataDir: string;
  highWatermark: number;
  lowWatermark: number;
  minFreeDiskBytes: number;
  intervalMs?: number;
}

export class BackPressure {
  private reason: string | null = null;
  private timer?: NodeJS.Timeout;
  private queueFull = false;

  constructor(private readonly options: BackPressureOptions) {}

  async start() {
    await this.measure();
    this.timer = setInterval(() => void this.measure(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
  }

  /** Throws the 452 reply while under pressure. */
  check() {
    if (this.reason) throw smtpReply(452, '4.3.1', `Insufficient system resources (${this.reason}); try again later`);
  }

  async measure() {
    const { db, dataDir, highWatermark, lowWatermark, minFreeDiskBytes } = this.options;
    // The store unreadable for a moment: count nothing waiting rather than refuse mail for it.
    const queued = await waitingRecipients(db).catch(() => 0);
    if (queued >= highWatermark) this.queueFull = true;
    else if (queued < lowWatermark) this.queueFull = false;
    let diskFree = Infinity;
    try {
      const stats = await statfs(dataDir);
      diskFree = stats.bavail * stats.bsize;
    } catch {
      // data dir not measurable (e.g. not created yet): do not block on it
    }
    if (diskFree < minFreeDiskBytes)
      this.reason = `disk space low: ${Math.round(diskFree / 1e6)} MB free in the data directory`;
    else if (this.queueFull) this.reason = `queue above its high watermark: ${queued} recipients waiting`;
    else this.reason = null;
  }
}
