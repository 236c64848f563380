// The changes of JMAP types the mailbox does not hold (Identity, EmailSubmission): rows with a
// per-principal MODSEQ that every change raises, a destroyed row kept as a tombstone. The state is the
// highest MODSEQ; /changes reads the rows past the one a state names. A writer locks the principal's
// row first (PostgreSQL), so two changes never take the same MODSEQ.
import type { Kysely, Transaction } from 'kysely';
import { isPostgres } from '../../store/prepared-query.ts';
import type { Database } from '../../store/schema.ts';
import { MethodError } from './jmap-errors.ts';
import { maxChanges } from './method-arguments.ts';

export type ModseqTable = 'jmap_identities' | 'jmap_submissions';

/** Locks the principal's changes of `table` and answers the next MODSEQ (in the caller's transaction). */
export async function nextModseq(trx: Transaction<Database>, table: ModseqTable, principalId: number): Promise<number> {
  if (isPostgres(trx))
    await trx.selectFrom('principals').select('id').where('id', '=', principalId).forNoKeyUpdate().execute();
  return (await highestModseq(trx, table, principalId)) + 1;
}

export async function highestModseq(db: Kysely<Database>, table: ModseqTable, principalId: number): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.max<number>('modseq').as('modseq'))
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  return Number(row?.modseq ?? 0);
}

/**
 * Marks these rows of the principal destroyed (tombstones /changes reports), each with its own MODSEQ
 * from `modseq` on; answers the next MODSEQ free (in the caller's transaction, after nextModseq).
 */
export async function destroyRows(
  trx: Transaction<Database>,
  table: ModseqTable,
  principalId: number,
  rowIds: number[],
  modseq: number,
): Promise<number> {
  for (const id of rowIds)
    await trx
      .updateTable(table)
      .set({ destroyed: 1, modseq: modseq++ })
      .where('id', '=', id)
      .where('principal_id', '=', principalId)
      .execute();
  return modseq;
}

export interface RowChange {
  id: number;
  kind: 'created' | 'updated' | 'destroyed';
  modseq: number;
}

/**
 * What changed after `since`, oldest first, at most `limit` (more: hasMoreChanges, and the state of
 * the last one reported). A row made and destroyed since is not reported at all.
 */
export async function changesSince(
  db: Kysely<Database>,
  table: ModseqTable,
  principalId: number,
  since: number,
  limit: number,
): Promise<{ changes: RowChange[]; hasMore: boolean; upTo: number }> {
  const rows = await db
    .selectFrom(table)
    .select(['id', 'modseq', 'created_modseq', 'destroyed'])
    .where('principal_id', '=', principalId)
    .where('modseq', '>', since)
    .orderBy('modseq')
    .orderBy('id')
    .execute();
  const all: RowChange[] = rows.flatMap((r) => {
    const created = Number(r.created_modseq) > since;
    if (r.destroyed && created) return [];
    const kind = r.destroyed ? 'destroyed' : created ? 'created' : 'updated';
    return [{ id: Number(r.id), kind, modseq: Number(r.modseq) }];
  });
  if (all.length <= limit)
    return { changes: all, hasMore: false, upTo: rows.length ? Number(rows.at(-1)!.modseq) : since };
  // Stop at a MODSEQ boundary (rows of one MODSEQ are reported together).
  let cut = limit;
  while (cut > 0 && all[cut]!.modseq === all[cut - 1]!.modseq) cut--;
  if (cut === 0) cut = limit;
  return { changes: all.slice(0, cut), hasMore: true, upTo: all[cut - 1]!.modseq };
}

/** The MODSEQ of a state `<prefix><number>`, or cannotCalculateChanges. */
export function modseqOfState(state: unknown, prefix: string): number {
  const match = typeof state === 'string' ? new RegExp(`^${prefix}([0-9]{1,15})(?:\\.|$)`).exec(state) : null;
  if (!match) throw new MethodError('cannotCalculateChanges', 'sinceState is not a state this server gave');
  return Number(match[1]);
}

/**
 * The arguments and changes of a /changes (RFC 8620 5.2) of a type kept in `table`: the rows changed
 * since sinceState (`<prefix><MODSEQ>…`), at most maxChanges, by kind (row ids); a state newer than
 * `currentState` was not made by this server for this account.
 */
export async function changesOfTable(
  args: Record<string, unknown>,
  db: Kysely<Database>,
  table: ModseqTable,
  principalId: number,
  prefix: string,
  currentState: string,
) {
  const since = modseqOfState(args.sinceState, prefix);
  const limit = maxChanges(args);
  if (since > modseqOfState(currentState, prefix))
    throw new MethodError('cannotCalculateChanges', 'sinceState is newer than this account');
  const found = await changesSince(db, table, principalId, since, limit);
  const of = (kind: RowChange['kind']) => found.changes.filter((c) => c.kind === kind).map((c) => c.id);
  return {
    hasMore: found.hasMore,
    upTo: found.upTo,
    created: of('created'),
    updated: of('updated'),
    destroyed: of('destroyed'),
  };
}
