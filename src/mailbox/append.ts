// Adding a message to a folder: allocate the next UID and MODSEQ atomically with the insert.
// A `deliveryKey` makes the append idempotent: the same key in the same folder adds nothing.
import type { Transaction } from 'kysely';
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

export async function appendMessage(trx: Transaction<Database>, input: AppendInput, now: number): Promise<AppendResult> {
  if (input.deliveryKey) {
    const existing = await trx
      .selectFrom('messages')
      .select(['uid', 'modseq'])
      .where('mailbox_id', '=', input.mailboxId)
      .where('delivery_key', '=', input.deliveryKey)
      .executeTakeFirst();
    if (existing) return { uid: existing.uid, modseq: existing.modseq, added: false };
  }
  // The UPDATE takes the folder's row lock (PostgreSQL) so concurrent appends get distinct UIDs.
  const folder = await trx
    .updateTable('mailboxes')
    .set((eb) => ({ uidnext: eb('uidnext', '+', 1), highest_modseq: eb('highest_modseq', '+', 1) }))
    .where('id', '=', input.mailboxId)
    .returning(['uidnext', 'highest_modseq'])
    .executeTakeFirstOrThrow();
  const uid = Number(folder.uidnext) - 1;
  const modseq = Number(folder.highest_modseq);
  await trx
    .insertInto('messages')
    .values({
      tenant_id: input.tenantId,
      mailbox_id: input.mailboxId,
      uid,
      blob_hash: input.blobHash,
      prefix: input.prefix,
      size: input.size,
      flags: (input.flags ?? []).join(' '),
      modseq,
      internal_date: input.internalDate,
      delivery_key: input.deliveryKey ?? null,
      created_at: now,
    })
    .execute();
  return { uid, modseq, added: true };
}
