// A principal's folders. Every mailbox gets the special-use folders clients expect (RFC 6154),
// created the first time the mailbox is used.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

export const defaultFolders: { name: string; specialUse: string | null }[] = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

type Db = Kysely<Database> | Transaction<Database>;

export async function ensureDefaultFolders(db: Db, principal: { id: number; tenantId: number }, now: number) {
  const existing = await db.selectFrom('mailboxes').select('name').where('principal_id', '=', principal.id).execute();
  const have = new Set(existing.map((m) => m.name));
  const missing = defaultFolders.filter((f) => !have.has(f.name));
  if (missing.length === 0) return;
  await db
    .insertInto('mailboxes')
    .values(
      missing.map((f) => ({
        tenant_id: principal.tenantId,
        principal_id: principal.id,
        name: f.name,
        special_use: f.specialUse,
        uidvalidity: Math.floor(now / 1000),
        uidnext: 1,
        highest_modseq: 1,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['principal_id', 'name']).doNothing())
    .execute();
}

export async function findFolder(db: Db, principalId: number, name: string) {
  return db.selectFrom('mailboxes').selectAll().where('principal_id', '=', principalId).where('name', '=', name).executeTakeFirst();
}

/** Bytes used by all of a principal's messages (for quota). */
export async function usedBytes(db: Db, principalId: number): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('messages.size'), eb.val(0)).as('used'))
    .where('mailboxes.principal_id', '=', principalId)
    .executeTakeFirstOrThrow();
  return Number(row.used);
}
