// Adding a message to a folder: allocate the next UID and MODSEQ atomically with the insert.
// A `deliveryKey` makes the append idempotent: the same key in the same folder adds nothing.
import type { Transaction } from 'kysely';
import { PreparedQuery } from '../store/prepared-query.ts';
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

export async function appendMessage(
  trx: Transaction<Database>,
  input: AppendInput,
  now: number,
): Promise<AppendResult> {
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
