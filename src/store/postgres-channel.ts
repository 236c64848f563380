// A PostgreSQL LISTEN/NOTIFY channel between the nodes sharing one database: what one node
// publishes, the others receive. A dedicated connection listens; it reconnects after a failure
// (anything missed meanwhile is only a hint lost: IMAP sessions catch up by MODSEQ anyway).
import pg from 'pg';
import type { Logger } from '../logging/logger.ts';

export class PostgresChannel {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private waiting: { payload: string; resolve(): void; reject(error: unknown): void }[] = [];
  private sending: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onMessage: (payload: string) => void,
    private readonly log: Logger,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
  }

  async start(): Promise<this> {
    await this.connect();
    return this;
  }

  private async connect() {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload !== undefined) this.onMessage(message.payload);
    });
    const reconnect = (error?: Error) => {
      if (this.stopped || this.client !== client) return;
      this.client = undefined;
      this.log.warn({ err: error }, 'change feed: lost the PostgreSQL listener, reconnecting');
      client.end().catch(() => {});
      this.retry = setTimeout(() => void this.connect().catch((e) => reconnect(e as Error)), 1000);
    };
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    this.client = client;
    await client.connect();
    await client.query(`listen ${this.channel}`);
  }

  /**
   * Sends a payload to every listening node (this one included). Payloads given while a send is
   * under way, or in the same turn of the event loop (a delivery's appends), go out together in one
   * statement: one round trip instead of one each, and never two queries at once on the connection.
   */
  notify(payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ payload, resolve, reject });
      this.sending ??= this.send();
    });
  }

  private async send() {
    await Promise.resolve(); // the rest of this turn's payloads join
    while (this.waiting.length) {
      const batch = this.waiting.splice(0);
      try {
        await this.client?.query('select pg_notify($1, payload) from unnest($2::text[]) as payload', [
          this.channel,
          batch.map((w) => w.payload),
        ]);
        batch.forEach((w) => w.resolve());
      } catch (error) {
        batch.forEach((w) => w.reject(error));
      }
    }
    this.sending = undefined;
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
