// Outbound spam, as Exchange Online's outbound spam policy handles it: submitted mail is scanned like
// inbound mail; each message rspamd takes for spam is a strike against the user, and
// `outbound_spam_limit` strikes within an hour pause the user's sending (a stolen password sending
// spam stops there) and alert the administrators. Mail the user receives is not affected; an
// administrator resumes sending with `holdfast senders resume`.
import type { Kysely } from 'kysely';
import { notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { filterDb } from './filter-tables.ts';

const strikeWindowMs = 3_600_000;

export interface PausedSender {
  principalId: number;
  tenantId: number;
  pausedAt: number;
  strikes: number;
  detail: string;
}

/** Records one spam verdict on the user's submitted mail; says whether this one paused their sending. */
export async function recordOutboundSpam(
  db: Kysely<Database>,
  sender: { principalId: number; tenantId: number },
  detail: string,
  limit: number,
  now: number,
): Promise<{ paused: boolean; strikes: number }> {
  return filterDb(db)
    .transaction()
    .execute(async (trx) => {
      const row = await trx
        .selectFrom('outbound_spam')
        .selectAll()
        .where('principal_id', '=', sender.principalId)
        .executeTakeFirst();
      const fresh = !row || row.first_strike_at <= now - strikeWindowMs;
      const strikes = fresh ? 1 : row.strikes + 1;
      const pausing = !row?.paused_at && strikes >= limit;
      const values = {
        strikes,
        first_strike_at: fresh ? now : row.first_strike_at,
        last_detail: detail,
        paused_at: row?.paused_at ?? (pausing ? now : null),
      };
      if (row)
        await trx.updateTable('outbound_spam').set(values).where('principal_id', '=', sender.principalId).execute();
      else
        await trx
          .insertInto('outbound_spam')
          .values({ principal_id: sender.principalId, tenant_id: sender.tenantId, ...values })
          // Two messages of one user judged at once: the second counts on the first's row.
          .onConflict((oc) =>
            oc
              .column('principal_id')
              .doUpdateSet((eb) => ({ strikes: eb('outbound_spam.strikes', '+', 1), last_detail: detail })),
          )
          .execute();
      return { paused: pausing, strikes };
    });
}

/** Why a paused user's message is refused, however it is sent (SMTP submission, JMAP). */
export async function pausedRefusal(
  db: Kysely<Database>,
  principal: { id: number; address: string },
): Promise<string | undefined> {
  const paused = await sendingPaused(db, principal.id);
  if (!paused) return undefined;
  return `Sending is paused for ${principal.address} since ${new Date(paused.pausedAt).toISOString()}: its mail was taken for spam; an administrator can resume it`;
}

export async function sendingPaused(db: Kysely<Database>, principalId: number): Promise<PausedSender | undefined> {
  const row = await filterDb(db)
    .selectFrom('outbound_spam')
    .selectAll()
    .where('principal_id', '=', principalId)
    .where('paused_at', 'is not', null)
    .executeTakeFirst();
  return row && toPaused(row);
}

export async function pausedSenders(db: Kysely<Database>, tenantId?: number): Promise<PausedSender[]> {
  let query = filterDb(db).selectFrom('outbound_spam').selectAll().where('paused_at', 'is not', null);
  if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId);
  return (await query.orderBy('paused_at').execute()).map(toPaused);
}

/** Lets a paused user send again, with no strikes. */
export async function resumeSending(db: Kysely<Database>, principalId: number): Promise<void> {
  const result = await filterDb(db)
    .deleteFrom('outbound_spam')
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  if (!result.numDeletedRows) throw notFound('not-paused', 'that user is not paused');
}

function toPaused(row: {
  principal_id: number;
  tenant_id: number;
  paused_at: number | null;
  strikes: number;
  last_detail: string;
}): PausedSender {
  return {
    principalId: Number(row.principal_id),
    tenantId: Number(row.tenant_id),
    pausedAt: Number(row.paused_at),
    strikes: row.strikes,
    detail: row.last_detail,
  };
}
