// A user's automatic reply (vacation response): its settings, shared by JMAP VacationResponse
// (RFC 8621 8), `holdfast vacation` and the responder at local delivery (flow/vacation-responder.ts),
// and the record of who was answered, so that a sender gets one reply per `days` (RFC 5230 4.1).
//
// The record is bounded: a user's rows past their window are dropped each time the user answers
// someone, all of them when the response is turned off or its text changes (a new response is owed
// to everyone, as RFC 5230 4.2 tracks responses by their content), and at most `maxRepliesKept`
// senders are kept per user (past that the oldest go, and may be answered again early).
import type { Kysely, Selectable } from 'kysely';
import { invalid } from '../errors.ts';
import type { Database, VacationResponseTable } from '../store/schema.ts';

export interface VacationSettings {
  isEnabled: boolean;
  /** Epoch ms; null: from now on. */
  fromDate: number | null;
  /** Epoch ms; null: until turned off. */
  toDate: number | null;
  subject: string | null;
  textBody: string | null;
  htmlBody: string | null;
  /** A sender is answered once in this many days. */
  days: number;
}

export const defaultReplyDays = 7;
/** RFC 5230 4.1: at least one day; past a quarter a sender would hardly notice a second reply. */
export const maxReplyDays = 90;
const dayMs = 86_400_000;
export const maxRepliesKept = 10_000;
/** Bodies are mail the server writes: kept to a size a reply should have. */
export const maxVacationBodyChars = 100_000;
export const maxVacationSubjectChars = 1000;

export const vacationOff: VacationSettings = {
  isEnabled: false,
  fromDate: null,
  toDate: null,
  subject: null,
  textBody: null,
  htmlBody: null,
  days: defaultReplyDays,
};

function toSettings(row: Selectable<VacationResponseTable>): VacationSettings {
  // PostgreSQL hands bigint columns over as strings.
  const number = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    isEnabled: Number(row.is_enabled) === 1,
    fromDate: number(row.from_date),
    toDate: number(row.to_date),
    subject: row.subject,
    textBody: row.text_body,
    htmlBody: row.html_body,
    days: Number(row.days ?? defaultReplyDays),
  };
}

/** The user's settings (off, with no text, when never set). */
export async function vacationOf(db: Kysely<Database>, principalId: number): Promise<VacationSettings> {
  const row = await db
    .selectFrom('vacation_responses')
    .selectAll()
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  return row ? toSettings(row) : { ...vacationOff };
}

/** The settings of those of these users whose response is turned on (one query per delivery batch). */
export async function enabledVacations(
  db: Kysely<Database>,
  principalIds: number[],
): Promise<Map<number, VacationSettings>> {
  const out = new Map<number, VacationSettings>();
  if (principalIds.length === 0) return out;
  const rows = await db
    .selectFrom('vacation_responses')
    .selectAll()
    .where('principal_id', 'in', [...new Set(principalIds)])
    .where('is_enabled', '=', 1)
    .execute();
  for (const row of rows) out.set(Number(row.principal_id), toSettings(row));
  return out;
}

/** Whether mail arriving at `now` is answered: turned on, on or after fromDate and before toDate (RFC 8621 8). */
export function vacationActive(settings: VacationSettings, now: number): boolean {
  return (
    settings.isEnabled &&
    (settings.fromDate === null || now >= settings.fromDate) &&
    (settings.toDate === null || now < settings.toDate)
  );
}

/** Refuses settings that cannot be kept, naming the field. */
export function checkVacation(settings: VacationSettings) {
  if (!Number.isInteger(settings.days) || settings.days < 1 || settings.days > maxReplyDays)
    throw invalid('bad-vacation-days', `days must be a whole number from 1 to ${maxReplyDays}`);
  if (settings.fromDate !== null && settings.toDate !== null && settings.toDate <= settings.fromDate)
    throw invalid('bad-vacation-dates', 'toDate must be after fromDate');
  if ((settings.subject?.length ?? 0) > maxVacationSubjectChars || /[\r\n]/.test(settings.subject ?? ''))
    throw invalid(
      'bad-vacation-subject',
      `the subject must be one line of at most ${maxVacationSubjectChars} characters`,
    );
  for (const body of [settings.textBody, settings.htmlBody])
    if ((body?.length ?? 0) > maxVacationBodyChars)
      throw invalid('bad-vacation-body', `a body must be at most ${maxVacationBodyChars} characters`);
}

/**
 * Stores the user's settings. Turning the response off, or changing what it says, forgets who was
 * answered: the next response is a new one, owed to every sender once.
 */
export async function setVacation(
  db: Kysely<Database>,
  principalId: number,
  settings: VacationSettings,
  now: number,
): Promise<void> {
  checkVacation(settings);
  await db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('vacation_responses')
      .selectAll()
      .where('principal_id', '=', principalId)
      .executeTakeFirst();
    const old = before ? toSettings(before) : vacationOff;
    const values = {
      is_enabled: settings.isEnabled ? 1 : 0,
      from_date: settings.fromDate,
      to_date: settings.toDate,
      subject: settings.subject,
      text_body: settings.textBody,
      html_body: settings.htmlBody,
      days: settings.days,
      updated_at: now,
    };
    await trx
      .insertInto('vacation_responses')
      .values({ principal_id: principalId, ...values })
      .onConflict((oc) => oc.column('principal_id').doUpdateSet(values))
      .execute();
    const newResponse =
      !settings.isEnabled ||
      !old.isEnabled ||
      old.subject !== settings.subject ||
      old.textBody !== settings.textBody ||
      old.htmlBody !== settings.htmlBody;
    if (newResponse) await trx.deleteFrom('vacation_replies').where('principal_id', '=', principalId).execute();
  });
}

/**
 * Takes the right to answer `sender` now: true (and remembered) when the user has not answered them
 * within `days`; false when they have. One statement decides, so two deliveries from the same sender
 * at once (two nodes) answer once.
 */
export async function claimReply(
  db: Kysely<Database>,
  principalId: number,
  sender: string,
  days: number,
  now: number,
): Promise<boolean> {
  const window = days * dayMs;
  const claimed = await db
    .insertInto('vacation_replies')
    .values({ principal_id: principalId, sender: sender.toLowerCase(), replied_at: now })
    .onConflict((oc) =>
      oc
        .columns(['principal_id', 'sender'])
        .doUpdateSet({ replied_at: now })
        .where('vacation_replies.replied_at', '<=', now - window),
    )
    .returning('sender')
    .executeTakeFirst();
  if (!claimed) return false;
  // Bounded growth: senders past their window need no row, and a user keeps at most maxRepliesKept.
  await db
    .deleteFrom('vacation_replies')
    .where('principal_id', '=', principalId)
    .where('replied_at', '<=', now - window)
    .execute();
  const kept = await db
    .selectFrom('vacation_replies')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('principal_id', '=', principalId)
    .executeTakeFirstOrThrow();
  if (Number(kept.n) > maxRepliesKept) {
    const cutoff = await db
      .selectFrom('vacation_replies')
      .select('replied_at')
      .where('principal_id', '=', principalId)
      .orderBy('replied_at', 'desc')
      .offset(maxRepliesKept)
      .limit(1)
      .executeTakeFirst();
    if (cutoff)
      await db
        .deleteFrom('vacation_replies')
        .where('principal_id', '=', principalId)
        .where('replied_at', '<=', Number(cutoff.replied_at))
        .where('sender', '!=', sender.toLowerCase())
        .execute();
  }
  return true;
}
