// Concurrent SMTP connections: per source address (checked when a client connects) and per resource
// forest (checked when a session first touches a tenant of the forest: at AUTH for submission, at
// RCPT for inbound mail). Over a limit the client gets 421 4.3.2 naming the limit and retries later.
// Under --workers both counts are the machine's (SharedCount, SharedLimit: the primary keeps them);
// this process's own counts are then what it falls back to when the primary does not answer in time,
// and what it reports in holdfast_forest_connections (the workers' figures add up in /metrics).
import { smtpReply } from './smtp-reply.ts';

/** A count shared by the processes of one machine (`--workers`: kept by the primary), with its limit. */
export interface SharedCount {
  /** Takes a slot of `key`: true if taken, false if all are in use, undefined if there was no answer in time. */
  take(key: string): Promise<boolean | undefined>;
  /** Gives back a slot `take` took. */
  give(key: string): void;
}

/** Like SharedCount, with the limit given at each take (each forest has its own). */
export interface SharedLimit {
  take(key: string, max: number): Promise<boolean | undefined>;
  give(key: string): void;
}

export class ConnectionLimits {
  private readonly perIp = new Map<string, number>();
  private readonly perForest = new Map<number, number>();
  /** Name and limit of each forest seen, for metrics. */
  private readonly forests = new Map<number, { name: string; max: number }>();

  /** With `machine` (and `machineForests`), the per-address (per-forest) limit counts every process of the machine. */
  constructor(
    private readonly maxPerIp: number,
    private readonly machine?: SharedCount,
    private readonly machineForests?: SharedLimit,
  ) {}

  /**
   * Counts a connection from `ip`, or throws the 421 when the limit is reached. In one process this
   * is synchronous (the connect path is hot); with a machine-wide count it returns a promise.
   */
  acquireIp(ip: string): Promise<void> | void {
    if (this.machine) return this.acquireMachineWide(ip, this.machine);
    const count = this.perIp.get(ip) ?? 0;
    if (count >= this.maxPerIp) throw this.tooManyFromIp();
    this.perIp.set(ip, count + 1);
  }

  releaseIp(ip: string) {
    const count = (this.perIp.get(ip) ?? 1) - 1;
    if (count <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, count);
    this.machine?.give(ip);
  }

  private async acquireMachineWide(ip: string, machine: SharedCount) {
    const taken = await machine.take(ip);
    const count = this.perIp.get(ip) ?? 0;
    // No answer from the primary: this process's own count decides, as in a single process.
    if (taken === false || (taken === undefined && count >= this.maxPerIp)) throw this.tooManyFromIp();
    this.perIp.set(ip, count + 1);
  }

  private tooManyFromIp() {
    return smtpReply(
      421,
      '4.3.2',
      `The maximum number of concurrent server connections has exceeded a per-source limit (${this.maxPerIp}), closing transmission channel`,
    );
  }

  /**
   * Counts a connection of the session to a forest, or throws the 421 when the forest's limit is
   * reached. Synchronous in one process; with a machine-wide count it returns a promise.
   */
  acquireForest(forestId: number, max: number, forestName: string): Promise<void> | void {
    this.forests.set(forestId, { name: forestName, max });
    if (this.machineForests) return this.acquireForestMachineWide(forestId, max, forestName, this.machineForests);
    const count = this.perForest.get(forestId) ?? 0;
    if (count >= max) throw this.tooManyInForest(forestName, max);
    this.perForest.set(forestId, count + 1);
  }

  releaseForest(forestId: number) {
    const count = (this.perForest.get(forestId) ?? 1) - 1;
    if (count <= 0) this.perForest.delete(forestId);
    else this.perForest.set(forestId, count);
    this.machineForests?.give(String(forestId));
  }

  private async acquireForestMachineWide(forestId: number, max: number, forestName: string, machine: SharedLimit) {
    const taken = await machine.take(String(forestId), max);
    const count = this.perForest.get(forestId) ?? 0;
    // No answer from the primary: this process's own count decides, as in a single process.
    if (taken === false || (taken === undefined && count >= max)) throw this.tooManyInForest(forestName, max);
    this.perForest.set(forestId, count + 1);
  }

  private tooManyInForest(forestName: string, max: number) {
    return smtpReply(
      421,
      '4.3.2',
      `The maximum number of concurrent connections per resource forest has exceeded a limit (forest ${forestName}: ${max}), closing transmission channel`,
    );
  }

  /** Open connections and the limit of every forest that has had a connection. */
  forestUsage(): { forest: string; open: number; limit: number }[] {
    return [...this.forests].map(([id, f]) => ({ forest: f.name, open: this.perForest.get(id) ?? 0, limit: f.max }));
  }

  snapshot() {
    return { perIp: Object.fromEntries(this.perIp), perForest: Object.fromEntries(this.perForest) };
  }
}
