// What each continuity upstream has been answering, kept in the store (continuity_upstreams) so that
// every node, the CLI and the status read the same: when its current run of failures began (no
// success since), its last success and failure, and its last few replies for the incident to show.
// Probes and the queue's own attempts are both observations; any success ends a run of failures,
// so an upstream that answers some of the time never starts an event.
import type { Kysely } from 'kysely';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';

export interface UpstreamObservation {
  at: number;
  ok: boolean;
  /** The reply or the failure ("421 4.3.2 …", "timeout after 30 s", "TLS: …"). */
  reply: string;
  source: 'probe' | 'delivery';
}

export interface UpstreamRecord {
  name: string;
  failingSince: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastReplies: { at: number; reply: string; source: string; ok: boolean }[];
  probedAt: number | null;
}

/** Replies kept per upstream (the incident's opening post lists them). */
const repliesKept = 5;
/** A reply is cut at this length: it is shown, and it came from the other side. */
const replyLength = 300;

export const emptyRecord = (name: string): UpstreamRecord => ({
  name,
  failingSince: null,
  lastSuccessAt: null,
  lastFailureAt: null,
  lastReplies: [],
  probedAt: null,
});

/** The record after one observation (pure). Observations older than the last success do not start a run. */
export function observe(record: UpstreamRecord, o: UpstreamObservation): UpstreamRecord {
  const next = { ...record, lastReplies: [...record.lastReplies] };
  if (o.ok) {
    next.lastSuccessAt = Math.max(record.lastSuccessAt ?? 0, o.at);
    if (next.failingSince !== null && o.at >= next.failingSince) next.failingSince = null;
  } else {
    next.lastFailureAt = Math.max(record.lastFailureAt ?? 0, o.at);
    if (next.failingSince === null && o.at > (record.lastSuccessAt ?? -1)) next.failingSince = o.at;
  }
  if (o.source === 'probe') next.probedAt = Math.max(record.probedAt ?? 0, o.at);
  const reply = o.reply.replace(/[\r\n]+/g, ' ').slice(0, replyLength);
  const last = next.lastReplies.at(-1);
  // A run of the same reply is one line (a deferral of 500 messages is one reply, not 500).
  if (last && last.reply === reply && last.ok === o.ok) last.at = Math.max(last.at, o.at);
  else next.lastReplies.push({ at: o.at, reply, source: o.source, ok: o.ok });
  next.lastReplies = next.lastReplies.slice(-repliesKept);
  return next;
}

export class UpstreamRecords {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async get(name: string): Promise<UpstreamRecord> {
    const row = await this.db
      .selectFrom('continuity_upstreams')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? fromRow(row) : emptyRecord(name);
  }

  /** Applies observations in time order, in one transaction (locking the row on PostgreSQL). */
  async record(name: string, observations: UpstreamObservation[]): Promise<UpstreamRecord> {
    const sorted = [...observations].sort((a, b) => a.at - b.at);
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('continuity_upstreams')
        .selectAll()
        .where('name', '=', name)
        .$if(this.dialect === 'postgres', (q) => q.forUpdate())
        .executeTakeFirst();
      const next = sorted.reduce(observe, row ? fromRow(row) : emptyRecord(name));
      const values = {
        failing_since: next.failingSince,
        last_success_at: next.lastSuccessAt,
        last_failure_at: next.lastFailureAt,
        last_replies: JSON.stringify(next.lastReplies),
        probed_at: next.probedAt,
      };
      await trx
        .insertInto('continuity_upstreams')
        .values({ name, ...values })
        .onConflict((oc) => oc.column('name').doUpdateSet(values))
        .execute();
      return next;
    });
  }

  /**
   * Forgets the current run of failures (an administrator ended the event by hand): a new event
   * starts by itself only after the upstream has failed for `activate_after` again from now.
   */
  async restartRun(name: string, now: number) {
    await this.db
      .updateTable('continuity_upstreams')
      .set({ failing_since: now })
      .where('name', '=', name)
      .where('failing_since', 'is not', null)
      .execute();
  }
}

function fromRow(row: {
  name: string;
  failing_since: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_replies: string;
  probed_at: number | null;
}): UpstreamRecord {
  const num = (v: number | null) => (v === null ? null : Number(v));
  let replies: UpstreamRecord['lastReplies'] = [];
  try {
    const parsed = JSON.parse(row.last_replies);
    if (Array.isArray(parsed)) replies = parsed;
  } catch {
    // A damaged list shows as none; the next observation writes a good one.
  }
  return {
    name: row.name,
    failingSince: num(row.failing_since),
    lastSuccessAt: num(row.last_success_at),
    lastFailureAt: num(row.last_failure_at),
    lastReplies: replies,
    probedAt: num(row.probed_at),
  };
}
