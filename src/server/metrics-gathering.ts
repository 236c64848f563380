// The primary's part of /metrics under `holdfast start --workers N`: a worker answering a scrape asks
// for the other workers' figures; the primary asks each of them ('metrics-collect') and answers the
// asker with the figures that arrived within a short wait ('metrics-gathered'), so one slow or dying
// worker delays a scrape by that wait at most and never fails it. The asker adds them up with its own
// (metrics/machine-metrics.ts). Pure bookkeeping: workers.ts carries the messages.
import type { Figure } from '../metrics/machine-metrics.ts';
import type { PrimaryMessage } from './worker-messages.ts';

/** How long the primary waits for the workers' figures before answering with those it has. */
export const defaultGatherWaitMs = 1500;

/** A worker as the gathering sees it: node:cluster's id and its channel. */
export interface Peer {
  id: number;
  send(message: PrimaryMessage): void;
}

interface Gathering {
  asker: Peer;
  askId: number;
  /** Workers asked and not yet answered, by id. */
  pending: Set<number>;
  figures: Figure[][];
  /** Workers that could not be asked (none running in that slot, or starting) or could not answer. */
  unasked: number;
  timer: NodeJS.Timeout;
}

export class MetricsGathering {
  private nextId = 1;
  private readonly gatherings = new Map<number, Gathering>();

  constructor(private readonly waitMs = defaultGatherWaitMs) {}

  /**
   * `asker` asks (its request `askId`) for the figures of `others`, the workers running besides it;
   * `unasked` more workers of the machine cannot answer (restarting) and count as missing.
   */
  ask(asker: Peer, askId: number, others: Peer[], unasked: number) {
    const id = this.nextId++;
    const gathering: Gathering = {
      asker,
      askId,
      pending: new Set(others.map((p) => p.id)),
      figures: [],
      unasked,
      timer: setTimeout(() => this.finish(id), this.waitMs),
    };
    this.gatherings.set(id, gathering);
    for (const peer of others) peer.send({ holdfast: 'metrics-collect', id });
    if (gathering.pending.size === 0) this.finish(id);
  }

  /** A worker's figures for gathering `id` (late or unknown ones are dropped; none: it counts as missing). */
  report(from: number, id: number, figures: Figure[] | undefined) {
    const gathering = this.gatherings.get(id);
    if (!gathering?.pending.delete(from)) return;
    if (figures) gathering.figures.push(figures);
    else gathering.unasked++;
    if (gathering.pending.size === 0) this.finish(id);
  }

  /** A worker exited: nothing more comes from it; a gathering it asked for has no one to answer. */
  workerGone(workerId: number) {
    for (const [id, gathering] of this.gatherings) {
      if (gathering.asker.id === workerId) {
        clearTimeout(gathering.timer);
        this.gatherings.delete(id);
      } else if (gathering.pending.delete(workerId)) {
        gathering.unasked++;
        if (gathering.pending.size === 0) this.finish(id);
      }
    }
  }

  private finish(id: number) {
    const gathering = this.gatherings.get(id);
    if (!gathering) return;
    this.gatherings.delete(id);
    clearTimeout(gathering.timer);
    const missing = gathering.unasked + gathering.pending.size;
    gathering.asker.send({ holdfast: 'metrics-gathered', id: gathering.askId, figures: gathering.figures, missing });
  }
}
