// SMTP load on every node: a few senders per node, each sending one message per connection, as
// outside servers do. Every attempt is recorded with what the server answered, so the drill can say
// which messages were accepted (250) and how long the servers answered with temporary failures.
import nodemailer from 'nodemailer';
import type { HoldfastNode } from './holdfast-nodes.ts';
import { sleep } from './processes.ts';

export type Outcome = 'accepted' | 'temporary' | 'permanent' | 'unreachable';

export interface Attempt {
  at: number;
  node: string;
  /** Submitted for a remote recipient (relayed to the drill's remote sink). */
  remote: boolean;
  messageId: string;
  outcome: Outcome;
  reply: string;
}

export class SmtpLoad {
  readonly attempts: Attempt[] = [];
  private running = false;
  private paused = false;
  private workers: Promise<void>[] = [];
  private sequence = 0;

  constructor(
    private readonly nodes: HoldfastNode[],
    private readonly recipients: string[],
    /** A user submitting mail to a remote address, one message per `intervalMs` on each node. */
    private readonly remote: { user: string; password: string; to: string; intervalMs: number },
    private readonly sendersPerNode = 2,
  ) {}

  start() {
    this.running = true;
    this.workers = this.nodes.flatMap((node) => [
      ...Array.from({ length: this.sendersPerNode }, (_, i) => this.sender(node, i)),
      this.sender(node, this.sendersPerNode, true),
    ]);
  }

  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
  }

  async stop() {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Waits until no send is under way (after pause()): every attempt made has its outcome. */
  async settled() {
    while (this.inFlight > 0) await sleep(50);
  }

  private inFlight = 0;

  /** Message-IDs answered 250: for local mailboxes, or (remote) for the remote sink. */
  accepted(remote = false): string[] {
    return this.attempts.filter((a) => a.outcome === 'accepted' && a.remote === remote).map((a) => a.messageId);
  }

  private async sender(node: HoldfastNode, index: number, remote = false) {
    while (this.running) {
      if (this.paused || !node.ports.smtp) {
        await sleep(100);
        continue;
      }
      const n = ++this.sequence;
      const messageId = `<drill-${n}-${node.name}-${index}@drill.example>`;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: remote ? node.ports.submission : node.ports.smtp,
        secure: false,
        ...(remote
          ? {
              requireTLS: true,
              tls: { rejectUnauthorized: false },
              auth: { user: this.remote.user, pass: this.remote.password },
            }
          : { ignoreTLS: true }),
        pool: false,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 60_000,
      });
      const at = Date.now();
      this.inFlight++;
      try {
        const info = await transport.sendMail({
          from: remote ? this.remote.user : 'load@outside.example',
          to: remote ? this.remote.to : this.recipients[n % this.recipients.length],
          subject: `drill ${n}`,
          text: `Message ${n} of the failover drill.\n${'x'.repeat(1500)}\n`,
          messageId,
        });
        this.attempts.push({ at, node: node.name, remote, messageId, outcome: 'accepted', reply: info.response });
      } catch (error) {
        const { responseCode, response, code, message } = error as {
          responseCode?: number;
          response?: string;
          code?: string;
          message: string;
        };
        const outcome: Outcome = responseCode
          ? responseCode >= 500
            ? 'permanent'
            : 'temporary'
          : code === 'ECONNECTION' || code === 'ESOCKET'
            ? 'unreachable'
            : 'temporary';
        this.attempts.push({
          at,
          node: node.name,
          remote,
          messageId,
          outcome,
          reply: response ?? `${code}: ${message}`,
        });
        if (outcome !== 'permanent') await sleep(200); // as a client backs off, a little
      } finally {
        this.inFlight--;
      }
      if (remote) await sleep(this.remote.intervalMs);
    }
  }
}
