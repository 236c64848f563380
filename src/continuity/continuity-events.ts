// Continuity events in the store (continuity_events): one per outage of an upstream, from its start
// (by itself or by an administrator) through recovery (the backlog replayed) to its close. At most
// one event per upstream is open, which a unique index enforces: two nodes, or a node and the CLI,
// starting one at the same moment get the same event.
import type { Kysely } from 'kysely';
import { conflict } from '../errors.ts';
import type { Selectable } from 'kysely';
import type { ContinuityEventState, ContinuityEventTable, Database } from '../store/schema.ts';

export interface ContinuityEvent {
  id: number;
  upstream: string;
  state: ContinuityEventState;
  startedBy: 'automatic' | 'admin';
  reason: string;
  startedAt: number;
  recoveringSince: number | null;
  endedAt: number | null;
  copyCursor: number;
  issueId: string | null;
  postedState: string | null;
}

export class ContinuityEvents {
  constructor(private readonly db: Kysely<Database>) {}

  /** The upstream's event that is not closed, if any. */
  async open(upstream: string): Promise<ContinuityEvent | undefined> {
    const row = await this.db
      .selectFrom('continuity_events')
      .selectAll()
      .where('upstream', '=', upstream)
      .where('state', '!=', 'closed')
      .executeTakeFirst();
    return row && fromRow(row);
  }

  /** The upstream's latest event, open or closed. */
  async latest(upstream: string): Promise<ContinuityEvent | undefined> {
    const row = await this.db
      .selectFrom('continuity_events')
      .selectAll()
      .where('upstream', '=', upstream)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && fromRow(row);
  }

  /** Events closed before `before` (for retention), oldest first. */
  async closedBefore(before: number): Promise<ContinuityEvent[]> {
    const rows = await this.db
      .selectFrom('continuity_events')
      .selectAll()
      .where('state', '=', 'closed')
      .where('ended_at', '<', before)
      .orderBy('ended_at')
      .execute();
    return rows.map(fromRow);
  }

  /** Events whose state changed since their last post (the monitor tells of them). */
  async unposted(): Promise<ContinuityEvent[]> {
    const rows = await this.db
      .selectFrom('continuity_events')
      .selectAll()
      .where((eb) => eb.or([eb('posted_state', 'is', null), eb('posted_state', '!=', eb.ref('state'))]))
      .orderBy('id')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * Starts an event (or returns the one already open: `started` false). `copyCursor` is the queue
   * recipient id the copier starts after.
   */
  async start(input: {
    upstream: string;
    startedBy: 'automatic' | 'admin';
    reason: string;
    at: number;
    copyCursor: number;
  }): Promise<{ event: ContinuityEvent; started: boolean }> {
    const existing = await this.open(input.upstream);
    if (existing) return { event: existing, started: false };
    try {
      await this.db
        .insertInto('continuity_events')
        .values({
          upstream: input.upstream,
          state: 'active',
          started_by: input.startedBy,
          reason: input.reason.slice(0, 500),
          started_at: input.at,
          copy_cursor: input.copyCursor,
        })
        .execute();
    } catch (error) {
      const other = await this.open(input.upstream);
      if (other) return { event: other, started: false };
      throw error;
    }
    return { event: (await this.open(input.upstream))!, started: true };
  }

  /** Moves an event from one state to another; false when it was not in `from` any more. */
  async move(
    id: number,
    from: ContinuityEventState,
    to: ContinuityEventState,
    at: number,
    reason?: string,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('continuity_events')
      .set({
        state: to,
        ...(to === 'recovering' ? { recovering_since: at } : {}),
        ...(to === 'active' ? { recovering_since: null } : {}),
        ...(to === 'closed' ? { ended_at: at } : {}),
        ...(reason ? { reason: reason.slice(0, 500) } : {}),
      })
      .where('id', '=', id)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** An administrator ends the open event: it replays its backlog and closes once drained. */
  async stopByHand(upstream: string, at: number, reason: string): Promise<ContinuityEvent> {
    const event = await this.open(upstream);
    if (!event) throw conflict('no-continuity-event', `${upstream} has no continuity event under way`);
    if (event.state === 'active') await this.move(event.id, 'active', 'recovering', at, reason);
    return (await this.open(upstream)) ?? event;
  }

  async setCursor(id: number, cursor: number) {
    await this.db
      .updateTable('continuity_events')
      .set({ copy_cursor: cursor })
      .where('id', '=', id)
      .where('copy_cursor', '<', cursor)
      .execute();
  }

  async setPosted(id: number, state: ContinuityEventState, issueId: string | null) {
    await this.db
      .updateTable('continuity_events')
      .set({ posted_state: state, ...(issueId ? { issue_id: issueId } : {}) })
      .where('id', '=', id)
      .execute();
  }
}

function fromRow(row: Selectable<ContinuityEventTable>): ContinuityEvent {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: Number(row.id),
    upstream: row.upstream,
    state: row.state,
    startedBy: row.started_by,
    reason: row.reason,
    startedAt: Number(row.started_at),
    recoveringSince: num(row.recovering_since),
    endedAt: num(row.ended_at),
    copyCursor: Number(row.copy_cursor),
    issueId: row.issue_id,
    postedState: row.posted_state,
  };
}
