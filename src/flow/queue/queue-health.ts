// What service health asks of the queue (health/checks/queue-checks.ts decides what is a problem):
// mail waiting too long, when a destination last took mail, what destinations refused lately, and
// which tenants and resource forests a set of recipients belongs to.
import { sql, type Kysely } from 'kysely';
import type { Database, RecipientState } from '../../store/schema.ts';

const waitingStates: RecipientState[] = ['queued', 'inflight', 'deferred'];

/** Recipients not yet delivered or failed (intake's back pressure compares it with its watermarks). */
export async function waitingRecipients(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('queue_recipients')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', 'in', waitingStates)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Recipients not yet delivered or failed that were queued before `before`, and the oldest one's time. */
export async function lateRecipients(
  db: Kysely<Database>,
  before: number,
): Promise<{ count: number; oldestAt: number | null }> {
  const row = await db
    .selectFrom('queue_recipients')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min<number>('created_at').as('oldest')])
    .where('state', 'in', waitingStates)
    .where('created_at', '<', before)
    .executeTakeFirst();
  const count = Number(row?.n ?? 0);
  return { count, oldestAt: count && row?.oldest != null ? Number(row.oldest) : null };
}

/** When a remote destination last took a recipient, if it ever did (of the recipients still kept). */
export async function lastDeliveredAt(db: Kysely<Database>, domain: string): Promise<number | null> {
  const row = await db
    .selectFrom('queue_recipients')
    .select((eb) => eb.fn.max<number>('updated_at').as('at'))
    .where('route', '=', 'remote')
    .where('domain', '=', domain)
    .where('state', '=', 'delivered')
    .executeTakeFirst();
  return row?.at != null ? Number(row.at) : null;
}

/** Per remote destination, how many recipients were delivered and how many failed since `since`. */
export async function remoteOutcomesSince(
  db: Kysely<Database>,
  since: number,
): Promise<Map<string, { delivered: number; failed: number }>> {
  const rows = await db
    .selectFrom('queue_recipients')
    .select(['domain', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('route', '=', 'remote')
    .where('state', 'in', ['failed', 'delivered'])
    .where('updated_at', '>=', since)
    .groupBy(['domain', 'state'])
    .execute();
  const outcomes = new Map<string, { delivered: number; failed: number }>();
  for (const row of rows) {
    const counts = outcomes.get(row.domain) ?? { delivered: 0, failed: 0 };
    counts[row.state === 'failed' ? 'failed' : 'delivered'] = Number(row.n);
    outcomes.set(row.domain, counts);
  }
  return outcomes;
}

/** The reply of the last recipient a destination refused. */
export async function lastRefusal(db: Kysely<Database>, domain: string): Promise<string | null> {
  const row = await db
    .selectFrom('queue_recipients')
    .select('last_reply')
    .where('domain', '=', domain)
    .where('state', '=', 'failed')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.last_reply ?? null;
}

/** Which recipients a scope covers: waiting ones by default, narrowed by time and destination. */
export interface RecipientSelection {
  states?: RecipientState[];
  queuedBefore?: number;
  updatedSince?: number;
  remoteDomain?: string;
}

/** The sending tenants of the selected recipients and the resource forests they belong to. */
export async function tenantsAndForestsOf(
  db: Kysely<Database>,
  selection: RecipientSelection,
): Promise<{ tenants: string[]; forests: string[] }> {
  let query = db
    .selectFrom('queue_recipients as r')
    .innerJoin('tenants as t', 't.id', 'r.tenant_id')
    .innerJoin('forests as f', 'f.id', 't.forest_id')
    .where('r.state', 'in', selection.states ?? waitingStates);
  if (selection.queuedBefore !== undefined) query = query.where('r.created_at', '<', selection.queuedBefore);
  if (selection.updatedSince !== undefined) query = query.where('r.updated_at', '>=', selection.updatedSince);
  if (selection.remoteDomain !== undefined)
    query = query.where('r.domain', '=', selection.remoteDomain).where('r.route', '=', 'remote');
  const rows = await query
    .select(['t.name as tenant', 'f.name as forest'])
    .groupBy(['t.name', 'f.name'])
    .orderBy(sql`1`)
    .execute();
  return { tenants: [...new Set(rows.map((r) => r.tenant))], forests: [...new Set(rows.map((r) => r.forest))] };
}
