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
    private readonly sendersPerNode = 2,
  ) {}

  start() {
    this.running = true;
    this.workers = this.nodes.flatMap((node) =>
      Array.from({ length: this.sendersPerNode }, (_, i) => this.sender(node, i)),
    );
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

  accepted(): string[] {
    return this.attempts.filter((a) => a.outcome === 'accepted').map((a) => a.messageId);
  }

  private async sender(node: HoldfastNode, index: number) {
    while (this.running) {
      if (this.paused || !node.ports.smtp) {
        await sleep(100);
        continue;
      }
      const n = ++this.sequence;
      const messageId = `<drill-${n}-${node.name}-${index}@drill.example>`;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: node.ports.smtp,
        secure: false,
        ignoreTLS: true,
        pool: false,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 60_000,
      });
      const at = Date.now();
      this.inFlight++;
      try {
        const info = await transport.sendMail({
          from: 'load@outside.example',
          to: this.recipients[n % this.recipients.length],
          subject: `drill ${n}`,
          text: `Message ${n} of the failover drill.\n${'x'.repeat(1500)}\n`,
          messageId,
        });
        this.attempts.push({ at, node: node.name, messageId, outcome: 'accepted', reply: info.response });
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
        this.attempts.push({ at, node: node.name, messageId, outcome, reply: response ?? `${code}: ${message}` });
        if (outcome !== 'permanent') await sleep(200); // as a client backs off, a little
      } finally {
        this.inFlight--;
      }
    }
  }
}
