// A worker's side of /metrics under --workers (metrics-gathering.ts is the primary's): it answers the
// primary's requests for its figures, and, answering a scrape itself, asks the primary for the other
// workers' figures to add up with its own (metrics/metrics.ts). A primary that does not answer in
// time leaves the scrape with this worker's figures alone, the others counted as missing
// (holdfast_scrape_workers): a scrape is never refused for it.
import type { Logger } from '../logging/logger.ts';
import type { Figure } from '../metrics/machine-metrics.ts';
import type { MachineFigures, Metrics } from '../metrics/metrics.ts';
import type { PrimaryChannel } from './machine-limits-client.ts';
import { defaultGatherWaitMs } from './metrics-gathering.ts';
import type { PrimaryMessage } from './worker-messages.ts';

/** How long a scrape waits for the primary's answer: its own wait for the workers, and a margin. */
export const defaultScrapeWaitMs = defaultGatherWaitMs + 1000;

type Gathered = Awaited<ReturnType<MachineFigures['gather']>>;

export class MachineMetricsClient implements MachineFigures {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(gathered: Gathered): void; timer: NodeJS.Timeout }>();
  private metrics?: Metrics;

  /** `workers`: how many workers the machine runs, this one included. */
  constructor(
    private readonly channel: PrimaryChannel,
    private readonly workers: number,
    private readonly log: Logger,
    private readonly waitMs = defaultScrapeWaitMs,
  ) {}

  /** The node's metrics are ready: its scrapes add up the machine's, and its figures go to the others'. */
  attach(metrics: Metrics) {
    this.metrics = metrics;
    metrics.addUpWith(this);
  }

  gather(): Promise<Gathered> {
    const alone: Gathered = { figures: [], missing: this.workers - 1 };
    if (this.workers <= 1) return Promise.resolve(alone);
    if (!this.channel.connected()) return Promise.resolve(alone);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.log.warn(
          { waitMs: this.waitMs },
          "metrics: the primary did not answer; this scrape has this worker's figures only",
        );
        resolve(alone);
      }, this.waitMs);
      this.pending.set(id, { resolve, timer });
      this.channel.send({ holdfast: 'metrics-ask', id }, (error) => {
        if (!error || !this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        resolve(alone);
      });
    });
  }

  /** A message from the primary: true if it was about metrics. */
  receive(message: PrimaryMessage): boolean {
    if (message.holdfast === 'metrics-collect') {
      void this.report(message.id);
      return true;
    }
    if (message.holdfast !== 'metrics-gathered') return false;
    const request = this.pending.get(message.id);
    if (!request) return true; // the scrape went on without it
    this.pending.delete(message.id);
    clearTimeout(request.timer);
    request.resolve({ figures: message.figures, missing: message.missing });
    return true;
  }

  /** Sends this worker's figures for the primary's gathering `id` (none if they could not be read: it then counts as missing). */
  private async report(id: number) {
    let figures: Figure[] | undefined;
    try {
      figures = await this.metrics?.workerFigures();
    } catch (error) {
      this.log.warn({ err: error }, "metrics: reading this worker's figures for a scrape failed");
    }
    if (this.channel.connected()) this.channel.send({ holdfast: 'metrics-report', id, figures }, () => {});
  }
}
