// A principal's folders. Every mailbox gets the special-use folders clients expect (RFC 6154),
// created the first time the mailbox is used.
import { sql, type Kysely, type Transaction } from 'kysely';
import { conflict, forbidden, invalid, notFound } from '../errors.ts';
import { batches } from '../store/batches.ts';
import { groupCommit, relaxedCommit } from '../store/commit-modes.ts';
import { isPostgres, PreparedQuery } from '../store/prepared-query.ts';
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

const folderNames = new PreparedQuery<{ principalId: number }, { name: string }>((db, arg) =>
  db.selectFrom('mailboxes').select('name').where('principal_id', '=', arg('principalId')),
);

export async function ensureDefaultFolders(db: Db, principal: { id: number; tenantId: number }, now: number) {
  const existing = await folderNames.rows(db, { principalId: principal.id });
  const have = new Set(existing.map((m) => m.name));
  const missing = defaultFolders.filter((f) => !have.has(f.name));
  if (missing.length === 0) return;
  // A new mailbox's first folders take the clock (nextUidValidity counts them); a default folder
  // deleted and now made again must get a value it never had.
  const uidvalidity = existing.length === 0 ? Math.floor(now / 1000) : await nextUidValidity(db, principal.id, now);
  await db
    .insertInto('mailboxes')
    .values(
      missing.map((f) => ({
        tenant_id: principal.tenantId,
        principal_id: principal.id,
        name: f.name,
        special_use: f.specialUse,
        uidvalidity,
        uidnext: 1,
        highest_modseq: 1,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['principal_id', 'name']).doNothing())
    .execute();
}

const folderByName = new PreparedQuery<{ principalId: number; name: string }, Folder>((db, arg) =>
  db.selectFrom('mailboxes').selectAll().where('principal_id', '=', arg('principalId')).where('name', '=', arg('name')),
);

export async function findFolder(db: Db, principalId: number, name: string): Promise<Folder | undefined> {
  return folderByName.first(db, { principalId, name });
}

/**
 * Locks these folders' rows until the transaction ends, in id order. Every write to a folder locks its
 * row (UIDNEXT and HIGHESTMODSEQ, and `used_bytes` through the triggers of migration 9) before its
 * messages; a transaction that writes to several folders (a delivery to many INBOXes, MOVE) takes
 * them all at its start in this one order, because two taking the same rows in different orders
 * deadlock on PostgreSQL. SQLite has one writer at a time: nothing to do there.
 */
export async function lockFolders(trx: Transaction<Database>, ids: number[]) {
  if (!isPostgres(trx)) return;
  // PostgreSQL locks the rows in the order the sort hands them over.
  for (const batch of batches([...new Set(ids)].sort((a, b) => a - b))) {
    await trx.selectFrom('mailboxes').select('id').where('id', 'in', batch).orderBy('id').forNoKeyUpdate().execute();
  }
}

const principalUsedBytes = new PreparedQuery<{ principalId: number }, { used: number }>((db, arg) =>
  db
    .selectFrom('mailboxes')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('used_bytes'), eb.val(0)).as('used'))
    .where('principal_id', '=', arg('principalId')),
);

/** Bytes used by all of a principal's messages (for quota): the sum of their folders' counts. */
export async function usedBytes(db: Db, principalId: number): Promise<number> {
  const row = await principalUsedBytes.first(db, { principalId });
  return Number(row?.used ?? 0);
}

// Folder management (IMAP CREATE/DELETE/RENAME/SUBSCRIBE, later JMAP Mailbox/set) ------------------

/** Hierarchy separator in folder names. */
export const folderDelimiter = '/';

export type Folder = Awaited<ReturnType<typeof listFolders>>[number];

export async function listFolders(db: Db, principalId: number) {
  return db.selectFrom('mailboxes').selectAll().where('principal_id', '=', principalId).orderBy('name').execute();
}

/** A folder name as stored: INBOX in upper case whatever the client wrote, no empty levels. */
export function normalizeFolderName(name: string): string {
  const levels = name.split(folderDelimiter);
  if (levels[0]?.toUpperCase() === 'INBOX') levels[0] = 'INBOX';
  if (levels.some((level) => level === '') || name.length > 1000) {
    throw invalid(
      'bad-folder-name',
      `folder name "${name}" is not allowed: levels must not be empty, and the name must be at most 1000 characters`,
    );
  }
  if (/[\u0000-\u001f\u007f*%]/.test(name))
    throw invalid('bad-folder-name', `folder name "${name}" contains a control character or a wildcard (* or %)`);
  return levels.join(folderDelimiter);
}

/**
 * A UIDVALIDITY no folder of the principal has had: the clock in seconds, or one more than the last
 * given or the highest held now, if that is later. The last one is kept with the principal (it never decreases), so a folder
 * deleted and created again in the same second gets a new value even if it held the highest; one
 * statement reads and raises it, so concurrent CREATEs get different values.
 */
async function nextUidValidity(db: Db, principalId: number, now: number): Promise<number> {
  const held = await db
    .selectFrom('mailboxes')
    .select((eb) => eb.fn.max('uidvalidity').as('max'))
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  const seconds = Math.max(Math.floor(now / 1000), Number(held?.max ?? 0) + 1);
  const row = await db
    .updateTable('principals')
    .set({
      uidvalidity_floor: sql<number>`case when uidvalidity_floor + 1 > ${seconds} then uidvalidity_floor + 1 else ${seconds} end`,
    })
    .where('id', '=', principalId)
    .returning('uidvalidity_floor')
    .executeTakeFirstOrThrow();
  return Number(row.uidvalidity_floor);
}

export async function createFolder(
  db: Db,
  principal: { id: number; tenantId: number },
  name: string,
  specialUse: string | null,
  now: number,
) {
  const normalized = normalizeFolderName(name);
  if (await findFolder(db, principal.id, normalized))
    throw conflict('folder-exists', `folder "${normalized}" already exists`);
  if (
    specialUse &&
    !defaultFolders.some((f) => f.specialUse === specialUse) &&
    specialUse !== '\\All' &&
    specialUse !== '\\Flagged'
  ) {
    throw invalid(
      'bad-special-use',
      `special use ${specialUse} is not one of \\Drafts, \\Sent, \\Trash, \\Junk, \\Archive, \\All, \\Flagged`,
    );
  }
  // A subscription the name kept after a DELETE is the new folder's now (new folders are subscribed).
  await db
    .deleteFrom('folder_subscriptions')
    .where('principal_id', '=', principal.id)
    .where('name', '=', normalized)
    .execute();
  return db
    .insertInto('mailboxes')
    .values({
      tenant_id: principal.tenantId,
      principal_id: principal.id,
      name: normalized,
      special_use: specialUse,
      uidvalidity: await nextUidValidity(db, principal.id, now),
      uidnext: 1,
      highest_modseq: 1,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes a folder and its messages; its subfolders stay. INBOX cannot be deleted. */
export async function deleteFolder(db: Kysely<Database>, principalId: number, name: string) {
  const normalized = normalizeFolderName(name);
  if (normalized === 'INBOX') throw forbidden('inbox-not-deletable', 'INBOX cannot be deleted');
  const folder = await findFolder(db, principalId, normalized);
  if (!folder) throw notFound('no-such-folder', `folder "${normalized}" does not exist`);
  await groupCommit(db, async (trx) => {
    // The folder's row before its messages, as every other writer to the folder takes them.
    await lockFolders(trx, [folder.id]);
    await trx.deleteFrom('messages').where('mailbox_id', '=', folder.id).execute();
    await trx.deleteFrom('mailbox_expunges').where('mailbox_id', '=', folder.id).execute();
    await trx.deleteFrom('mailboxes').where('id', '=', folder.id).execute();
    // DELETE leaves the subscription (RFC 3501 6.3.9): LIST (SUBSCRIBED) shows it as \NonExistent.
    if (folder.subscribed === 1) {
      await trx
        .insertInto('folder_subscriptions')
        .values({ principal_id: principalId, name: normalized })
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  });
  return folder;
}

/** Renames a folder and every folder below it. Renaming INBOX is handled by the caller (messages move). */
export async function renameFolder(db: Kysely<Database>, principalId: number, from: string, to: string, now: number) {
  const source = normalizeFolderName(from);
  const target = normalizeFolderName(to);
  if (!(await findFolder(db, principalId, source)))
    throw notFound('no-such-folder', `folder "${source}" does not exist`);
  if (await findFolder(db, principalId, target)) throw conflict('folder-exists', `folder "${target}" already exists`);
  if (target.startsWith(`${source}${folderDelimiter}`))
    throw invalid('bad-folder-name', `cannot move "${source}" below itself`);
  await groupCommit(db, async (trx) => {
    const folders = (await listFolders(trx, principalId)).filter(
      (f) => f.name === source || f.name.startsWith(`${source}${folderDelimiter}`),
    );
    await lockFolders(
      trx,
      folders.map((f) => f.id),
    );
    for (const folder of folders) {
      const renamed = target + folder.name.slice(source.length);
      // A renamed folder is a new folder to clients that cached it by name.
      await trx
        .updateTable('mailboxes')
        .set({ name: renamed, uidvalidity: await nextUidValidity(trx, principalId, now) })
        .where('id', '=', folder.id)
        .execute();
    }
  });
}

export async function setSubscribed(db: Db, principalId: number, name: string, subscribed: boolean) {
  const normalized = normalizeFolderName(name);
  const folder = await findFolder(db, principalId, normalized);
  // A subscription its folder's DELETE left behind can still be removed.
  const kept = subscribed
    ? undefined
    : await db
        .deleteFrom('folder_subscriptions')
        .where('principal_id', '=', principalId)
        .where('name', '=', normalized)
        .executeTakeFirst();
  if (!folder && Number(kept?.numDeletedRows ?? 0) > 0) return;
  if (!folder) throw notFound('no-such-folder', `folder "${name}" does not exist`);
  await db
    .updateTable('mailboxes')
    .set({ subscribed: subscribed ? 1 : 0 })
    .where('id', '=', folder.id)
    .execute();
}

/** Names subscribed to that have no folder (any more). */
export async function subscriptionsWithoutFolder(db: Db, principalId: number): Promise<string[]> {
  return (
    await db.selectFrom('folder_subscriptions').select('name').where('principal_id', '=', principalId).execute()
  ).map((r) => r.name);
}

/** Whether a message row has a flag. ESCAPE makes the backslash literal on PostgreSQL too (its LIKE escapes with it by default). */
export const hasFlag = (flag: string) => sql<boolean>`flags like ${`%${flag}%`} escape '!'`;

export interface FolderStatus {
  messages: number;
  unseen: number;
  deleted: number;
  /** Messages no IMAP4rev1 session has taken as \Recent yet (as of the given row). */
  recent: number;
  size: number;
  uidnext: number;
  uidvalidity: number;
  highestModseq: number;
}

/** Counts of the folder's messages; UIDNEXT, UIDVALIDITY and HIGHESTMODSEQ as of the given row. */
export async function folderStatus(db: Db, folder: Folder): Promise<FolderStatus> {
  const counts = await db
    .selectFrom('messages')
    .select((eb) => [
      eb.fn.countAll<number>().as('messages'),
      eb.fn.coalesce(eb.fn.sum<number>('size'), eb.val(0)).as('size'),
      eb.fn.sum<number>(eb.case().when(hasFlag('\\Seen')).then(0).else(1).end()).as('unseen'),
      eb.fn.sum<number>(eb.case().when(hasFlag('\\Deleted')).then(1).else(0).end()).as('deleted'),
      eb.fn.sum<number>(eb.case().when('uid', '>=', Number(folder.recent_from_uid)).then(1).else(0).end()).as('recent'),
    ])
    .where('mailbox_id', '=', folder.id)
    .executeTakeFirstOrThrow();
  return {
    messages: Number(counts.messages),
    unseen: Number(counts.unseen ?? 0),
    deleted: Number(counts.deleted ?? 0),
    recent: Number(counts.recent ?? 0),
    size: Number(counts.size),
    uidnext: Number(folder.uidnext),
    uidvalidity: Number(folder.uidvalidity),
    highestModseq: Number(folder.highest_modseq),
  };
}

// \Recent (IMAP4rev1) ----------------------------------------------------------------------------

// Raises recent_from_uid to `upTo` (never lowers it) and keeps the value it had in recent_claim_from:
// the right-hand sides of SET all read the row as it was, on SQLite and PostgreSQL alike, and RETURNING
// shows the row after. On PostgreSQL a second claimer waits for the first's row lock and then works on
// the row the first left, so two claims never overlap.
const claimRecentUpTo = new PreparedQuery<
  { folderId: number; upTo: number },
  { recent_claim_from: number; recent_from_uid: number }
>((db, arg) =>
  db
    .updateTable('mailboxes')
    .set({
      recent_claim_from: sql<number>`recent_from_uid`,
      recent_from_uid: sql<number>`case when recent_from_uid > ${arg('upTo')} then recent_from_uid else ${arg('upTo')} end`,
    })
    .where('id', '=', arg('folderId'))
    .returning(['recent_claim_from', 'recent_from_uid']),
);

/**
 * Takes the folder's recent messages below UID `upTo` for one session, in one statement: returns the
 * UIDs it took as [from, to) (empty when another session took them first), or undefined when the
 * folder is gone. Committed as flag changes are, without waiting for the disk: a claim lost with the
 * machine only shows its messages as recent once more.
 */
export async function claimRecent(
  db: Kysely<Database>,
  folderId: number,
  upTo: number,
): Promise<[number, number] | undefined> {
  const row = await relaxedCommit(db, (trx) => claimRecentUpTo.first(trx, { folderId, upTo }));
  return row && [Number(row.recent_claim_from), Number(row.recent_from_uid)];
}

const recentFromUid = new PreparedQuery<{ folderId: number }, { recent_from_uid: number }>((db, arg) =>
  db.selectFrom('mailboxes').select('recent_from_uid').where('id', '=', arg('folderId')),
);

/** The lowest UID still recent in the folder now (for a session that looks without taking). */
export async function recentFrom(db: Db, folderId: number): Promise<number | undefined> {
  const row = await recentFromUid.first(db, { folderId });
  return row && Number(row.recent_from_uid);
}
