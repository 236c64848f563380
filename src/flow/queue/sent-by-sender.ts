// What an authenticated sender has sent lately, counted from the queue: every message a user sends
// (SMTP submission or a calendar invitation) is a queue entry carrying its principal. The sending
// limits (flow/sender-limits.ts) draw on these counts.
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';

/** Messages the principal queued after `since`. */
export async function messagesSentSince(db: Kysely<Database>, principalId: number, since: number): Promise<number> {
  const row = await db
    .selectFrom('queue_messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('auth_principal_id', '=', principalId)
    .where('received_at', '>', since)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Recipients of the messages the principal queued after `since`, as the sender named them (a group counts once). */
export async function recipientsSentSince(db: Kysely<Database>, principalId: number, since: number): Promise<number> {
  const row = await db
    .selectFrom((eb) =>
      eb
        .selectFrom('queue_recipients as r')
        .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
        .select(['r.message_id', 'r.original_recipient'])
        .distinct()
        .where('m.auth_principal_id', '=', principalId)
        .where('m.received_at', '>', since)
        .as('sent'),
    )
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
