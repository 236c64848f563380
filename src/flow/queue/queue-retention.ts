// How long finished mail stays in the queue tables: delivered and failed entries are kept for
// `[queue] keep_finished` (30 days) so that `holdfast trace` and `holdfast queue show` can answer
// questions about them, then deleted with their recipients and trace events. Their contents are
// handed to the content collector, which deletes those nothing else uses.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';

/** A check a singleton job's transaction runs before it writes (cluster/leader-lease.ts): it throws when the job's lease is gone. */
export type Fence = (trx: Transaction<Database>) => Promise<void>;

/**
 * Deletes up to `limit` queue entries received before `cutoff` whose recipients are all finished
 * (delivered or failed), optionally only those from `sender`. Returns how many, and their contents.
 */
export async function purgeFinishedMail(
  db: Kysely<Database>,
  cutoff: number,
  options: { limit?: number; sender?: string; fence?: Fence } = {},
): Promise<{ purged: number; hashes: string[] }> {
  const done = await db
    .selectFrom('queue_messages as m')
    .select(['m.id', 'm.blob_hash'])
    .where('m.received_at', '<', cutoff)
    .$if(options.sender !== undefined, (q) => q.where('m.sender', '=', options.sender!))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('queue_recipients as r')
            .select('r.id')
            .whereRef('r.message_id', '=', 'm.id')
            .where('r.state', 'in', ['queued', 'inflight', 'deferred']),
        ),
      ),
    )
    .orderBy('m.received_at')
    .limit(options.limit ?? 500)
    .execute();
  if (done.length === 0) return { purged: 0, hashes: [] };
  const ids = done.map((m) => m.id);
  await db.transaction().execute(async (trx) => {
    await options.fence?.(trx);
    await trx.deleteFrom('trace_events').where('message_id', 'in', ids).execute();
    await trx.deleteFrom('queue_recipients').where('message_id', 'in', ids).execute();
    await trx.deleteFrom('queue_messages').where('id', 'in', ids).execute();
  });
  return { purged: done.length, hashes: [...new Set(done.map((m) => m.blob_hash))] };
}
