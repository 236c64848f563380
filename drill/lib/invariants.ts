// What the drill promises after every failure, read from the database itself: every message a
// node answered 250 for is in its mailbox exactly once, and the queue has drained.
import pg from 'pg';
import { sleep } from './processes.ts';

export interface MailboxCount {
  accepted: number;
  lost: string[];
  duplicated: string[];
  /** Refused with a temporary failure, yet stored (the commit's answer was lost): delivered once, not a loss. */
  deliveredThoughRefused: number;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Waits until no recipient waits for delivery; how long that took, or undefined if it did not within `timeoutMs`. */
export async function waitDrained(url: string, timeoutMs: number): Promise<{ ms: number; waiting: number }> {
  const start = Date.now();
  let waiting = -1;
  while (Date.now() - start < timeoutMs) {
    try {
      waiting = await withClient(url, async (client) => {
        const { rows } = await client.query(
          "select count(*)::int as n from queue_recipients where state in ('queued', 'inflight', 'deferred')",
        );
        return rows[0].n as number;
      });
      if (waiting === 0) return { ms: Date.now() - start, waiting };
    } catch {
      // the database is still coming back
    }
    await sleep(250);
  }
  return { ms: Date.now() - start, waiting };
}

export async function countMailboxes(url: string, accepted: string[], refused: string[]): Promise<MailboxCount> {
  const copies = await withClient(url, async (client) => {
    const { rows } = await client.query(
      `select q.message_id as id, count(*)::int as copies
         from messages m join queue_messages q on q.blob_hash = m.blob_hash
        group by q.message_id`,
    );
    return new Map<string, number>(rows.map((r: { id: string; copies: number }) => [r.id, r.copies]));
  });
  return {
    accepted: accepted.length,
    lost: accepted.filter((id) => !copies.has(id)),
    duplicated: [...copies].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`),
    deliveredThoughRefused: refused.filter((id) => copies.has(id)).length,
  };
}

/** Deliveries leased by a process (owner "<host>/<pid>/<random>") that are still in flight. */
export async function leasedBy(url: string, pid: number): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      "select count(*)::int as n from queue_recipients where state = 'inflight' and lease_owner like $1",
      [`%/${pid}/%`],
    );
    return rows[0].n as number;
  });
}
