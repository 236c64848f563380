// A PostgreSQL LISTEN/NOTIFY channel between the nodes sharing one database: what one node
// publishes, the others receive. A dedicated connection listens; it reconnects after a failure
// (anything missed meanwhile is only a hint lost: IMAP sessions catch up by MODSEQ anyway).
import pg from 'pg';
import type { Logger } from '../logging/logger.ts';

export class PostgresChannel {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

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

  /** Sends a payload to every listening node (this one included). */
  async notify(payload: string) {
    const client = this.client;
    if (!client) return;
    await client.query('select pg_notify($1, $2)', [this.channel, payload]);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
