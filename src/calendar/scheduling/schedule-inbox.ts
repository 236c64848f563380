// A principal's scheduling inbox (RFC 6638 §2.2): iTIP messages its calendar client should show and
// act on. Holdfast puts only proposals of a new time (COUNTER) and their refusals (DECLINECOUNTER)
// here; invitations, answers and cancellations are applied to calendars directly.
import type { Kysely, Selectable } from 'kysely';
import type { Database, ScheduleInboxTable } from '../../store/schema.ts';
import { objectEtag, objectUriForUid } from '../calendars.ts';

export type InboxItem = Selectable<ScheduleInboxTable>;

export async function deliverToInbox(
  db: Kysely<Database>,
  principal: { id: number; tenantId: number },
  message: { uid: string; method: string; sender: string; data: string },
  now: number,
): Promise<InboxItem> {
  const uri = `${message.method.toLowerCase()}-${now}-${objectUriForUid(message.uid)}`;
  return db
    .insertInto('schedule_inbox')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      uri,
      uid: message.uid,
      method: message.method,
      sender: message.sender,
      etag: objectEtag(message.data),
      data: message.data,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listInbox(db: Kysely<Database>, principalId: number): Promise<InboxItem[]> {
  return db.selectFrom('schedule_inbox').selectAll().where('principal_id', '=', principalId).orderBy('id').execute();
}

export async function getInboxItem(
  db: Kysely<Database>,
  principalId: number,
  uri: string,
): Promise<InboxItem | undefined> {
  return db
    .selectFrom('schedule_inbox')
    .selectAll()
    .where('principal_id', '=', principalId)
    .where('uri', '=', uri)
    .executeTakeFirst();
}

export async function deleteInboxItem(db: Kysely<Database>, principalId: number, uri: string): Promise<boolean> {
  const result = await db
    .deleteFrom('schedule_inbox')
    .where('principal_id', '=', principalId)
    .where('uri', '=', uri)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
