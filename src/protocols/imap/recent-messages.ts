// Which messages are \Recent (IMAP4rev1, RFC 3501 section 2.3.2): a message is recent to exactly one
// session, the first to SELECT its folder (or to have it selected read-write when the message arrives)
// after it arrived, whatever its internal date. Each folder keeps in the store the lowest UID no
// session has taken yet (mailboxes.recent_from_uid, as Dovecot's first_recent_uid); a read-write
// session takes what is above it with one UPDATE that raises it (claimRecent), so it holds across
// restarts and across the nodes of a cluster, and two sessions never take the same message. EXAMINE
// and read-only sessions look without taking (RFC 3501 section 6.3.2). IMAP4rev2 sessions neither see
// nor take: their commands cost nothing here.
import type { Kysely } from 'kysely';
import { claimRecent, recentFrom, type Folder } from '../../mailbox/folders.ts';
import type { Database } from '../../store/schema.ts';

/**
 * At SELECT/EXAMINE: the UIDs among `messages` (the folder's, ascending, as the session will show them)
 * that are recent to this session, taken for it when `claim`. `folder` is the row just read: its
 * recent_from_uid only ever grows, so when it is past the last message there is nothing to take and no
 * statement is run.
 */
export async function recentAtSelect(
  db: Kysely<Database>,
  folder: Folder,
  messages: readonly { uid: number }[],
  claim: boolean,
): Promise<number[]> {
  const last = messages.at(-1)?.uid;
  if (last === undefined || Number(folder.recent_from_uid) > last) return [];
  // Only up to the last message the session shows: mail arriving meanwhile is left to whoever hears of it first.
  const from = claim ? (await claimRecent(db, folder.id, last + 1))?.[0] : Number(folder.recent_from_uid);
  return from === undefined ? [] : uidsFrom(messages, from);
}

/**
 * Mail that arrived while the folder was selected (`added`, ascending): the UIDs recent to this session.
 * A read-write session takes them unless another session did first; a read-only one only looks.
 */
export async function recentArrivals(
  db: Kysely<Database>,
  folderId: number,
  added: readonly number[],
  claim: boolean,
): Promise<number[]> {
  const last = added.at(-1);
  if (last === undefined) return [];
  const from = claim ? (await claimRecent(db, folderId, last + 1))?.[0] : await recentFrom(db, folderId);
  return from === undefined ? [] : added.filter((uid) => uid >= from);
}

/** The UIDs of the messages from UID `from` on: the last few, so walk back from the end of a large folder. */
function uidsFrom(messages: readonly { uid: number }[], from: number): number[] {
  let start = messages.length;
  while (start > 0 && messages[start - 1]!.uid >= from) start--;
  return messages.slice(start).map((m) => m.uid);
}
