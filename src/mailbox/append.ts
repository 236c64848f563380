// Adding a message to a folder: allocate the next UID and MODSEQ atomically with the insert.
// A `deliveryKey` makes the append idempotent: the same key in the same folder adds nothing.
// The row's id is chosen before the insert, so that a new Email's id (and a new thread's) can be that
// same id in the one statement: ids are never reused (AUTOINCREMENT, an identity), so neither are they.
import { sql, type Transaction } from 'kysely';
import { isPostgres, PreparedQuery, rawSql } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';
import { ownThread, type ThreadPlacement } from './conversation-threads.ts';

export interface AppendInput {
  mailboxId: number;
  tenantId: number;
  blobHash: string;
  prefix: string;
  size: number;
  flags?: string[];
  internalDate: number;
  deliveryKey?: string;
  /** The Email this row holds when it is moved here; a new Email (its own row id) when absent. */
  emailId?: number;
  /** The conversation it joins (conversation-threads.ts); a thread of its own when absent. */
  thread?: ThreadPlacement;
}

export interface AppendResult {
  uid: number;
  modseq: number;
  /** False when a message with this delivery key was already there. */
  added: boolean;
  emailId: number;
  threadId: number;
}

type Appended = { uid: number; modseq: number; email_id: number; thread_id: number };

const byDeliveryKey = new PreparedQuery<{ folderId: number; deliveryKey: string }, Appended>((db, arg) =>
  db
    .selectFrom('messages')
    .select(['uid', 'modseq', 'email_id', 'thread_id'])
    .where('mailbox_id', '=', arg('folderId'))
    .where('delivery_key', '=', arg('deliveryKey')),
);

// The UPDATE takes the folder's row lock (PostgreSQL) so concurrent appends get distinct UIDs.
const nextUid = new PreparedQuery<{ folderId: number }, { uidnext: number; highest_modseq: number }>((db, arg) =>
  db
    .updateTable('mailboxes')
    .set((eb) => ({ uidnext: eb('uidnext', '+', 1), highest_modseq: eb('highest_modseq', '+', 1) }))
    .where('id', '=', arg('folderId'))
    .returning(['uidnext', 'highest_modseq']),
);

/** SQLite: the id the next row gets (AUTOINCREMENT: past every id the table ever had), in the writer's transaction. */
const nextRowId = new PreparedQuery<Record<string, never>, { id: number }>((db) =>
  rawSql(
    db,
    sql`select max(coalesce((select seq from sqlite_sequence where name = 'messages'), 0),
      coalesce((select max(id) from messages), 0)) + 1 as id`,
  ),
);

type MessageValues = {
  tenantId: number;
  folderId: number;
  uid: number;
  blobHash: string;
  prefix: string;
  size: number;
  flags: string;
  modseq: number;
  internalDate: number;
  deliveryKey: string | null;
  now: number;
  emailId: number | null;
  threadId: number | null;
  messageKey: number | null;
  rootKey: number | null;
};
type RowValues = Omit<MessageValues, 'emailId' | 'threadId'> & { id: number; emailId: number; threadId: number };
const insertRow = new PreparedQuery<RowValues, never>((db, arg) =>
  db.insertInto('messages').values({
    id: arg('id'),
    email_id: arg('emailId'),
    thread_id: arg('threadId'),
    message_key: arg('messageKey'),
    root_key: arg('rootKey'),
    tenant_id: arg('tenantId'),
    mailbox_id: arg('folderId'),
    uid: arg('uid'),
    blob_hash: arg('blobHash'),
    prefix: arg('prefix'),
    size: arg('size'),
    flags: arg('flags'),
    modseq: arg('modseq'),
    internal_date: arg('internalDate'),
    delivery_key: arg('deliveryKey'),
    created_at: arg('now'),
  }),
);

/**
 * appendMessage's three statements as one, for PostgreSQL, where each statement is a round trip: the
 * UPDATE and INSERT run only when no message has the delivery key yet.
 */
const appendInOneStatement = new PreparedQuery<Omit<MessageValues, 'uid' | 'modseq'>, Appended & { added: boolean }>(
  (db, arg) =>
    rawSql(
      db,
      sql`with existing as (
          select uid, modseq, email_id, thread_id from messages
          where mailbox_id = ${arg('folderId')} and delivery_key = ${arg('deliveryKey')}),
        folder as (
          update mailboxes set uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
          where id = ${arg('folderId')} and not exists (select 1 from existing)
          returning uidnext - 1 as uid, highest_modseq as modseq),
        added as (
          insert into messages (id, email_id, thread_id, message_key, root_key, tenant_id, mailbox_id, uid, blob_hash,
            prefix, size, flags, modseq, internal_date, delivery_key, created_at)
          select next_row.id, coalesce(${arg('emailId')}::bigint, next_row.id),
            coalesce(${arg('threadId')}::bigint, ${arg('emailId')}::bigint, next_row.id),
            ${arg('messageKey')}::bigint, ${arg('rootKey')}::bigint, ${arg('tenantId')}, ${arg('folderId')}, folder.uid,
            ${arg('blobHash')}, ${arg('prefix')}, ${arg('size')}, ${arg('flags')}, folder.modseq, ${arg('internalDate')},
            ${arg('deliveryKey')}, ${arg('now')}
          from folder cross join lateral (select nextval(pg_get_serial_sequence('messages', 'id')) as id) next_row
          returning uid, modseq, email_id, thread_id)
        select uid, modseq, email_id, thread_id, false as added from existing
        union all select uid, modseq, email_id, thread_id, true as added from added`,
    ),
);

export async function appendMessage(
  trx: Transaction<Database>,
  input: AppendInput,
  now: number,
): Promise<AppendResult> {
  const thread = input.thread ?? ownThread;
  const values = {
    tenantId: input.tenantId,
    folderId: input.mailboxId,
    blobHash: input.blobHash,
    prefix: input.prefix,
    size: input.size,
    flags: (input.flags ?? []).join(' '),
    internalDate: input.internalDate,
    deliveryKey: input.deliveryKey ?? null,
    now,
    emailId: input.emailId ?? null,
    threadId: thread.threadId,
    messageKey: thread.messageKey,
    rootKey: thread.rootKey,
  };
  if (isPostgres(trx)) {
    const row = await appendInOneStatement.first(trx, values);
    if (!row) throw new Error(`folder ${input.mailboxId} is gone`);
    return result(row, row.added);
  }
  if (input.deliveryKey) {
    const existing = await byDeliveryKey.first(trx, { folderId: input.mailboxId, deliveryKey: input.deliveryKey });
    if (existing) return result(existing, false);
  }
  const folder = await nextUid.first(trx, { folderId: input.mailboxId });
  if (!folder) throw new Error(`folder ${input.mailboxId} is gone`);
  const uid = Number(folder.uidnext) - 1;
  const modseq = Number(folder.highest_modseq);
  // After nextUid: the transaction holds SQLite's write lock, so no other writer takes this id.
  const id = Number((await nextRowId.first(trx, {}))!.id);
  const emailId = input.emailId ?? id;
  const threadId = thread.threadId ?? emailId;
  await insertRow.run(trx, { ...values, id, uid, modseq, emailId, threadId });
  return { uid, modseq, added: true, emailId, threadId };
}

function result(row: Appended, added: boolean): AppendResult {
  return {
    uid: Number(row.uid),
    modseq: Number(row.modseq),
    added,
    emailId: Number(row.email_id),
    threadId: Number(row.thread_id),
  };
}
