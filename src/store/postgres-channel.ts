// A PostgreSQL LISTEN/NOTIFY channel between the nodes sharing one database: what one node
// publishes, the others receive. A dedicated connection listens; after a failure (a failover, a
// restart, a cut network) it reconnects with growing waits, listens again and tells the receiver
// that it may have missed payloads (`resubscribed`): they are hints, and IMAP sessions catch up by
// MODSEQ once told to look.
import pg from 'pg';
import type { Logger } from '../logging/logger.ts';
import { resubscribed } from './channel-signals.ts';

/** Reconnection waits grow from the first to the last, doubling, with jitter so nodes do not come back in step. */
const firstRetryMs = 200;
const lastRetryMs = 5000;

export class PostgresChannel {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Connections whose end was seen (also before they were this.client). */
  private readonly ended = new WeakSet<pg.Client>();
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

  /** Connects and listens; fails if the database cannot be reached now (a node starts only with its store). */
  async start(): Promise<this> {
    this.client = await this.subscribe();
    return this;
  }

  /** A new connection listening on the channel, or the error that prevented it. */
  private async subscribe(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload !== undefined) this.onMessage(message.payload);
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  }

  private lost(client: pg.Client, error?: Error) {
    this.ended.add(client);
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.log.warn({ err: error }, 'change feed: lost the PostgreSQL listener, reconnecting');
    client.end().catch(() => {});
    this.reconnectLater();
  }

  private reconnectLater() {
    const wait = Math.min(lastRetryMs, firstRetryMs * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.retry = setTimeout(async () => {
      let client: pg.Client;
      try {
        client = await this.subscribe();
      } catch (error) {
        if (this.stopped) return;
        // Logged at the first failure and then every tenth, not at every retry of a long outage.
        if (this.failures++ % 10 === 0)
          this.log.warn({ err: error, failures: this.failures }, 'change feed: PostgreSQL listener still down');
        return this.reconnectLater();
      }
      if (this.stopped) return void client.end().catch(() => {});
      this.client = client;
      this.failures = 0;
      this.log.info('change feed: listening again; sessions re-check what they show');
      this.onMessage(resubscribed);
      // A connection that broke between LISTEN and the line above raised its events with no owner.
      if (this.ended.has(client)) this.lost(client);
    }, wait);
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
        // Named: parsed once per connection (an unnamed statement's parse cost PostgreSQL 20 times its run).
        await this.client?.query({
          name: 'holdfast_notify',
          text: 'select pg_notify($1, payload) from unnest($2::text[]) as payload',
          values: [this.channel, batch.map((w) => w.payload)],
        });
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
