// Which conversation (JMAP Thread, RFC 8621 3) a new message joins, decided once when it enters an
// account (delivery, APPEND, import, a copy from another account) and never changed after: an
// Email's threadId is immutable. RFC 8621 leaves the rule to the server; Holdfast's:
//
//   A message joins the thread of a message of the same account that shares a Message-ID with it:
//   one it references (References, In-Reply-To), one with its own Message-ID (a second copy), or
//   one that began the same conversation — whose References start with the same Message-ID, or
//   whose conversation began with this message (a reply that arrived before its original).
//   Anything else begins a thread of its own. Subjects are not compared (unlike IMAP THREAD): two
//   unrelated "Hello" messages stay apart.
//
// Each row keeps two keys: message_key, a hash of its own Message-ID, and root_key, a hash of the
// first Message-ID of its conversation (the first of References, else In-Reply-To, else its own).
// Both are scoped to the account (the principal id is hashed in), so one indexed probe finds only
// this account's rows even when the same mail went to thousands of accounts. The lookup is bounded:
// at most `maxReferences` keys of References, one query, one row.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { HeaderLine } from '../message/mime-tree.ts';
import { batches } from '../store/batches.ts';
import type { Database } from '../store/schema.ts';

/** Where a message goes: the thread it joins (null: it begins one, named by its own Email id) and its keys. */
export interface ThreadPlacement {
  threadId: number | null;
  messageKey: number | null;
  rootKey: number | null;
}

export const ownThread: ThreadPlacement = { threadId: null, messageKey: null, rootKey: null };

/** The Message-IDs a message names about its conversation. */
export interface ThreadHeaders {
  messageId: string | null;
  /** References (or, without them, In-Reply-To), oldest first; at most maxReferences. */
  references: string[];
}

/** A long References list keeps its first (the conversation's start) and its last (the nearest parents). */
export const maxReferences = 20;

const msgIds = (value: string | undefined) =>
  [...(value ?? '').matchAll(/<([^<>\s]{1,250})>/g)].map((m) => m[1]!).slice(0, 1000);

/** The thread headers of a message from its top-level header fields (the last of each wins, as Email/get shows). */
export function threadHeadersOf(headers: HeaderLine[]): ThreadHeaders {
  const last = (name: string) =>
    headers.reduce<string | undefined>((v, [n, value]) => (n === name ? value : v), undefined);
  const messageId = msgIds(last('message-id'))[0] ?? null;
  let references = msgIds(last('references'));
  if (references.length === 0) references = msgIds(last('in-reply-to')).slice(0, 1);
  if (references.length > maxReferences) references = [references[0]!, ...references.slice(-(maxReferences - 1))];
  return { messageId, references: references.filter((id) => id !== messageId) };
}

/** A Message-ID as a key of one account: 53 bits of SHA-256, a safe integer on both databases and in JS. */
export function accountKey(principalId: number, messageId: string): number {
  const digest = createHash('sha256').update(`${principalId}\0${messageId}`).digest();
  return Number(digest.readBigUInt64BE(0) >> 11n);
}

/** The keys of a message in an account, and the thread it joins there. */
export async function placeInThread(
  db: Kysely<Database>,
  principalId: number,
  headers: ThreadHeaders | undefined,
): Promise<ThreadPlacement> {
  if (!headers) return ownThread;
  const key = (id: string) => accountKey(principalId, id);
  const messageKey = headers.messageId ? key(headers.messageId) : null;
  const rootId = headers.references[0] ?? headers.messageId;
  const rootKey = rootId ? key(rootId) : null;
  const named = [...headers.references.map(key), ...(messageKey === null ? [] : [messageKey])];
  const roots = [...new Set([rootKey, messageKey].filter((k): k is number => k !== null))];
  if (named.length === 0) return { threadId: null, messageKey, rootKey };
  const row = await db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select('messages.thread_id')
    .where((eb) => eb.or([eb('messages.message_key', 'in', named), eb('messages.root_key', 'in', roots)]))
    .where('mailboxes.principal_id', '=', principalId)
    .limit(1)
    .executeTakeFirst();
  return { threadId: row ? Number(row.thread_id) : null, messageKey, rootKey };
}

/** The thread headers of stored contents, from their metadata (contents without any are left out). */
export async function threadHeadersOfContents(
  db: Kysely<Database>,
  hashes: string[],
): Promise<Map<string, ThreadHeaders>> {
  const out = new Map<string, ThreadHeaders>();
  for (const batch of batches([...new Set(hashes)])) {
    const rows = await db.selectFrom('blob_metadata').select(['hash', 'headers']).where('hash', 'in', batch).execute();
    for (const row of rows) out.set(row.hash, threadHeadersOf(JSON.parse(row.headers) as HeaderLine[]));
  }
  return out;
}

/** placeInThread for a stored content, reading its headers from its metadata. */
export async function placeContentInThread(
  db: Kysely<Database>,
  principalId: number,
  blobHash: string,
): Promise<ThreadPlacement> {
  return placeInThread(db, principalId, (await threadHeadersOfContents(db, [blobHash])).get(blobHash));
}
