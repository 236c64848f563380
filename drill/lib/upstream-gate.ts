// The stand-in upstream's front door for the continuity drill: a TCP proxy on loopback in front of
// Postfix. While "down" it answers every connection as Exchange Online did in the outage that
// motivated continuity mode — `421 4.3.2 The maximum number of concurrent connections per resource
// forest has exceeded a limit` — and hangs up; while up it passes connections through to Postfix, but
// only `limit` at a time: one more is answered with the same 421, as a provider throttles a gateway
// that replays its backlog. It counts what it did, for the drill's figures.
import { createServer, connect, type Server, type Socket } from 'node:net';

export const resourceForest421 =
  '421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit';

export class UpstreamGate {
  down = false;
  /** Connections passed through to Postfix at this moment, the most at once, and in all. */
  active = 0;
  peak = 0;
  passed = 0;
  /** Connections answered 421 while down, and while up but at the limit. */
  refusedDown = 0;
  refusedBusy = 0;
  private server?: Server;
  private readonly open = new Set<Socket>();

  constructor(
    private readonly targetPort: number,
    readonly limit: number,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  /** The outage begins: connections through the gate are cut and new ones refused. */
  fail() {
    this.down = true;
    for (const socket of this.open) socket.destroy();
  }

  recover() {
    this.down = false;
  }

  /** Starts counting the throttling afresh (for the replay's figures). */
  resetCounts() {
    this.peak = this.active;
    this.passed = 0;
    this.refusedBusy = 0;
  }

  private accept(client: Socket) {
    client.on('error', () => {});
    if (this.down || this.active >= this.limit) {
      if (this.down) this.refusedDown++;
      else this.refusedBusy++;
      client.end(`${resourceForest421}\r\n`);
      return;
    }
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    this.passed++;
    const upstream = connect(this.targetPort, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    this.open.add(client);
    this.open.add(upstream);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.active--;
      this.open.delete(client);
      this.open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
