// Adding a message to a folder: allocate the next UID and MODSEQ atomically with the insert.
// A `deliveryKey` makes the append idempotent: the same key in the same folder adds nothing.
import { sql, type Transaction } from 'kysely';
import { isPostgres, PreparedQuery, rawSql } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';

export interface AppendInput {
  mailboxId: number;
  tenantId: number;
  blobHash: string;
  prefix: string;
  size: number;
  flags?: string[];
  internalDate: number;
  deliveryKey?: string;
}

export interface AppendResult {
  uid: number;
  modseq: number;
  /** False when a message with this delivery key was already there. */
  added: boolean;
}

const byDeliveryKey = new PreparedQuery<{ folderId: number; deliveryKey: string }, { uid: number; modseq: number }>(
  (db, arg) =>
    db
      .selectFrom('messages')
      .select(['uid', 'modseq'])
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
};
const insertRow = new PreparedQuery<MessageValues, never>((db, arg) =>
  db.insertInto('messages').values({
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
const appendInOneStatement = new PreparedQuery<
  Omit<MessageValues, 'uid' | 'modseq'>,
  { uid: number; modseq: number; added: boolean }
>((db, arg) =>
  rawSql(
    db,
    sql`with existing as (
          select uid, modseq from messages where mailbox_id = ${arg('folderId')} and delivery_key = ${arg('deliveryKey')}),
        folder as (
          update mailboxes set uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
          where id = ${arg('folderId')} and not exists (select 1 from existing)
          returning uidnext - 1 as uid, highest_modseq as modseq),
        added as (
          insert into messages (tenant_id, mailbox_id, uid, blob_hash, prefix, size, flags, modseq, internal_date,
            delivery_key, created_at)
          select ${arg('tenantId')}, ${arg('folderId')}, folder.uid, ${arg('blobHash')}, ${arg('prefix')}, ${arg('size')},
            ${arg('flags')}, folder.modseq, ${arg('internalDate')}, ${arg('deliveryKey')}, ${arg('now')}
          from folder
          returning uid, modseq)
        select uid, modseq, false as added from existing
        union all select uid, modseq, true as added from added`,
  ),
);

export async function appendMessage(
  trx: Transaction<Database>,
  input: AppendInput,
  now: number,
): Promise<AppendResult> {
  if (isPostgres(trx)) {
    const row = await appendInOneStatement.first(trx, {
      tenantId: input.tenantId,
      folderId: input.mailboxId,
      blobHash: input.blobHash,
      prefix: input.prefix,
      size: input.size,
      flags: (input.flags ?? []).join(' '),
      internalDate: input.internalDate,
      deliveryKey: input.deliveryKey ?? null,
      now,
    });
    if (!row) throw new Error(`folder ${input.mailboxId} is gone`);
    return { uid: Number(row.uid), modseq: Number(row.modseq), added: row.added };
  }
  if (input.deliveryKey) {
    const existing = await byDeliveryKey.first(trx, { folderId: input.mailboxId, deliveryKey: input.deliveryKey });
    if (existing) return { uid: existing.uid, modseq: existing.modseq, added: false };
  }
  const folder = await nextUid.first(trx, { folderId: input.mailboxId });
  if (!folder) throw new Error(`folder ${input.mailboxId} is gone`);
  const uid = Number(folder.uidnext) - 1;
  const modseq = Number(folder.highest_modseq);
  await insertRow.run(trx, {
    tenantId: input.tenantId,
    folderId: input.mailboxId,
    uid,
    blobHash: input.blobHash,
    prefix: input.prefix,
    size: input.size,
    flags: (input.flags ?? []).join(' '),
    modseq,
    internalDate: input.internalDate,
    deliveryKey: input.deliveryKey ?? null,
    now,
  });
  return { uid, modseq, added: true };
}
