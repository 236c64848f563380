// Concurrent SMTP connections: per source address (checked when a client connects) and per resource
// forest (checked when a session first touches a tenant of the forest: at AUTH for submission, at
// RCPT for inbound mail). Over a limit the client gets 421 4.3.2 naming the limit and retries later.
import { smtpReply } from './smtp-reply.ts';

export class ConnectionLimits {
  private readonly perIp = new Map<string, number>();
  private readonly perForest = new Map<number, number>();
  /** Name and limit of each forest seen, for metrics. */
  private readonly forests = new Map<number, { name: string; max: number }>();

  constructor(private readonly maxPerIp: number) {}

  acquireIp(ip: string) {
    const count = this.perIp.get(ip) ?? 0;
    if (count >= this.maxPerIp) {
      throw smtpReply(
        421,
        '4.3.2',
        `The maximum number of concurrent server connections has exceeded a per-source limit (${this.maxPerIp}), closing transmission channel`,
      );
    }
    this.perIp.set(ip, count + 1);
  }

  releaseIp(ip: string) {
    const count = (this.perIp.get(ip) ?? 1) - 1;
    if (count <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, count);
  }

  acquireForest(forestId: number, max: number, forestName: string) {
    this.forests.set(forestId, { name: forestName, max });
    const count = this.perForest.get(forestId) ?? 0;
    if (count >= max) {
      throw smtpReply(
        421,
        '4.3.2',
        `The maximum number of concurrent connections per resource forest has exceeded a limit (forest ${forestName}: ${max}), closing transmission channel`,
      );
    }
    this.perForest.set(forestId, count + 1);
  }

  releaseForest(forestId: number) {
    const count = (this.perForest.get(forestId) ?? 1) - 1;
    if (count <= 0) this.perForest.delete(forestId);
    else this.perForest.set(forestId, count);
  }

  /** Open connections and the limit of every forest that has had a connection. */
  forestUsage(): { forest: string; open: number; limit: number }[] {
    return [...this.forests].map(([id, f]) => ({ forest: f.name, open: this.perForest.get(id) ?? 0, limit: f.max }));
  }

  snapshot() {
    return { perIp: Object.fromEntries(this.perIp), perForest: Object.fromEntries(this.perForest) };
  }
}
