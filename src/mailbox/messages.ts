// Operations on the messages of a folder: listing, flags, expunge, copy, move and append. Each
// operation is one transaction that raises the folder's HIGHESTMODSEQ once and gives every message it
// changes that MODSEQ; expunges are logged with theirs, so any client can catch up from the MODSEQ it
// last saw (CONDSTORE/QRESYNC) and a change event is only a hint to look.
import type { Kysely, Transaction } from 'kysely';
import { batches } from '../store/batches.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import type { Dialect } from '../store/database.ts';
import { groupCommit, relaxedCommit } from '../store/commit-modes.ts';
import { PreparedQuery } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';
import { appendMessage } from './append.ts';
import type { ChangeFeed, MailboxChange } from './change-feed.ts';
import { lockFolders, type Folder } from './folders.ts';
import { checkQuota } from './quota.ts';
import { inlineBlob, inlineBlobLimit, writeInlineBlob } from '../store/blobs/inline-blob.ts';
import { computeMetadata, storeMetadata } from './message-metadata.ts';
import type { FolderIndex } from './folder-index.ts';
import { placeContentInThread, placeInThread, threadHeadersOf, type ThreadPlacement } from './conversation-threads.ts';

export interface MessageDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  changes: ChangeFeed;
  /** Whole-folder reads (SELECT, SEARCH), kept up to date by MODSEQ. */
  index: FolderIndex;
  /** Told of every copy and move after it committed (the spam filter learns from moves into and out of Junk). */
  copied?: (event: CopyEvent) => void;
  now(): number;
}

/** Messages copied or moved from one folder into another, as copyMessages committed them. */
export interface CopyEvent {
  source: Folder;
  target: Folder;
  move: boolean;
  messages: { blobHash: string; prefix: string }[];
}

/** The mailbox's dependencies taken from the running server's parts (IMAP, POP3, local delivery, probes). */
export function messageDeps(parts: {
  store: { db: Kysely<Database>; dialect: Dialect; blobs: BlobStore };
  changes: ChangeFeed;
  folderIndex: FolderIndex;
  now(): number;
}): MessageDeps {
  const { store } = parts;
  return {
    db: store.db,
    dialect: store.dialect,
    blobs: store.blobs,
    changes: parts.changes,
    index: parts.folderIndex,
    now: parts.now,
  };
}

export interface MessageState {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface MessageRow extends MessageState {
  size: number;
  internalDate: number;
  blobHash: string;
  prefix: string;
  /** The JMAP Email it holds (kept by a move) and its conversation (mailbox/conversation-threads.ts). */
  emailId: number;
  threadId: number;
  /** Read with the row from the store (not kept by the folder index). */
  messageKey?: number | null;
  rootKey?: number | null;
}

const splitFlags = (text: string) => (text ? text.split(' ') : []);

export function toMessageRow(row: MessageRowFields): MessageRow {
  return {
    uid: Number(row.uid),
    flags: splitFlags(row.flags),
    modseq: Number(row.modseq),
    size: Number(row.size),
    internalDate: Number(row.internal_date),
    blobHash: row.blob_hash,
    prefix: row.prefix,
    emailId: Number(row.email_id),
    threadId: Number(row.thread_id),
    messageKey: row.message_key === null ? null : Number(row.message_key),
    rootKey: row.root_key === null ? null : Number(row.root_key),
  };
}

/** UID, flags and MODSEQ of every message in the folder, by UID. */
export async function listMessageStates(db: Kysely<Database>, folderId: number): Promise<MessageState[]> {
  const rows = await db
    .selectFrom('messages')
    .select(['uid', 'flags', 'modseq'])
    .where('mailbox_id', '=', folderId)
    .orderBy('uid')
    .execute();
  return rows.map((r) => ({ uid: Number(r.uid), flags: splitFlags(r.flags), modseq: Number(r.modseq) }));
}

export const messageRowColumns = [
  'uid',
  'flags',
  'modseq',
  'size',
  'internal_date',
  'blob_hash',
  'prefix',
  'email_id',
  'thread_id',
  'message_key',
  'root_key',
] as const;

const messageByUid = new PreparedQuery<{ folderId: number; uid: number }, MessageRowFields>((db, arg) =>
  db
    .selectFrom('messages')
    .select(messageRowColumns)
    .where('mailbox_id', '=', arg('folderId'))
    .where('uid', '=', arg('uid')),
);
export type MessageRowFields = {
  uid: number;
  flags: string;
  modseq: number;
  size: number;
  internal_date: number;
  blob_hash: string;
  prefix: string;
  email_id: number;
  thread_id: number;
  message_key: number | null;
  root_key: number | null;
};

/** Full rows of the messages with these UIDs (those that still exist), by UID. */
export async function messagesByUid(db: Kysely<Database>, folderId: number, uids: number[]): Promise<MessageRow[]> {
  const [only] = uids;
  if (only !== undefined && uids.length === 1)
    return (await messageByUid.rows(db, { folderId, uid: only })).map(toMessageRow);
  const out: MessageRow[] = [];
  const sorted = [...uids].sort((a, b) => a - b);
  for (const batch of batches(sorted)) {
    const rows = await db
      .selectFrom('messages')
      .select(messageRowColumns)
      .where('mailbox_id', '=', folderId)
      .where('uid', 'in', batch)
      .orderBy('uid')
      .execute();
    out.push(...rows.map(toMessageRow));
  }
  return out;
}

const highestModseq = new PreparedQuery<{ folderId: number }, { highest_modseq: number }>((db, arg) =>
  db.selectFrom('mailboxes').select('highest_modseq').where('id', '=', arg('folderId')),
);

/** The folder's HIGHESTMODSEQ now; undefined when the folder is gone. */
export async function folderModseq(db: Kysely<Database>, folderId: number): Promise<number | undefined> {
  const row = await highestModseq.first(db, { folderId });
  return row ? Number(row.highest_modseq) : undefined;
}

type Since = { folderId: number; modseq: number };
/** A message row as the folder index keeps it (a session's catch-up reads the first three columns). */
export type ChangedRow = {
  uid: number;
  flags: string;
  modseq: number;
  size: number;
  internal_date: number;
  blob_hash: string;
  email_id: number;
  thread_id: number;
};
/** Messages added or changed after a MODSEQ, in UID order: what sessions and the folder index catch up with. */
export const changedSince = new PreparedQuery<Since, ChangedRow>((db, arg) =>
  db
    .selectFrom('messages')
    .select(['uid', 'flags', 'modseq', 'size', 'internal_date', 'blob_hash', 'email_id', 'thread_id'])
    .where('mailbox_id', '=', arg('folderId'))
    .where('modseq', '>', arg('modseq'))
    .orderBy('uid'),
);
/** UIDs expunged after a MODSEQ, with the MODSEQ of each expunge (and the Email it took), in UID order. */
export const expungedSince = new PreparedQuery<
  Since,
  { uid: number; modseq: number; email_id: number | null; thread_id: number | null }
>((db, arg) =>
  db
    .selectFrom('mailbox_expunges')
    .select(['uid', 'modseq', 'email_id', 'thread_id'])
    .where('mailbox_id', '=', arg('folderId'))
    .where('modseq', '>', arg('modseq'))
    .orderBy('uid'),
);

/** What changed in the folder after `modseq`: messages added or whose flags changed, and UIDs expunged. */
export async function changesSince(db: Kysely<Database>, folderId: number, modseq: number) {
  const changed = await changedSince.rows(db, { folderId, modseq });
  const expunged = await expungedSince.rows(db, { folderId, modseq });
  return {
    changed: changed.map((r) => ({ uid: Number(r.uid), flags: splitFlags(r.flags), modseq: Number(r.modseq) })),
    expunged: expunged.map((r) => Number(r.uid)),
    expungedModseqs: expunged.map((r) => Number(r.modseq)),
  };
}

const nextModseq = new PreparedQuery<{ folderId: number }, { highest_modseq: number }>((db, arg) =>
  db
    .updateTable('mailboxes')
    .set((eb) => ({ highest_modseq: eb('highest_modseq', '+', 1) }))
    .where('id', '=', arg('folderId'))
    .returning('highest_modseq'),
);

async function bumpModseq(trx: Transaction<Database>, folderId: number): Promise<number> {
  const row = await nextModseq.first(trx, { folderId });
  if (!row) throw new Error(`folder ${folderId} is gone`);
  return Number(row.highest_modseq);
}

const setFlagsOfOne = new PreparedQuery<{ folderId: number; uid: number; flags: string; modseq: number }, never>(
  (db, arg) =>
    db
      .updateTable('messages')
      .set({ flags: arg('flags'), modseq: arg('modseq') })
      .where('mailbox_id', '=', arg('folderId'))
      .where('uid', '=', arg('uid')),
);

function publish(deps: MessageDeps, folder: Folder, kind: MailboxChange['kind'], modseq: number) {
  deps.changes.publish({
    tenantId: folder.tenant_id,
    principalId: folder.principal_id,
    mailboxId: folder.id,
    kind,
    modseq,
  });
}

export type FlagChange = 'set' | 'add' | 'remove';

/**
 * Changes the flags of the messages with these UIDs. With `unchangedSince` (CONDSTORE), messages
 * modified after that MODSEQ are left alone and returned in `modified`.
 */
export async function storeFlags(
  deps: MessageDeps,
  folder: Folder,
  uids: number[],
  change: FlagChange,
  flags: string[],
  unchangedSince?: number,
) {
  const result = await relaxedCommit(deps.db, async (trx) => {
    const rows = await messagesByUid(trx, folder.id, uids);
    const modified =
      unchangedSince === undefined ? [] : rows.filter((r) => r.modseq > unchangedSince).map((r) => r.uid);
    const byNewFlags = new Map<string, number[]>();
    const updated: MessageState[] = [];
    for (const row of rows) {
      if (unchangedSince !== undefined && row.modseq > unchangedSince) continue;
      const next = applyFlagChange(row.flags, change, flags);
      if (next.join(' ') === row.flags.join(' ')) {
        // Nothing changes, but CONDSTORE still reports the message's MODSEQ.
        if (unchangedSince !== undefined) updated.push({ uid: row.uid, flags: row.flags, modseq: row.modseq });
        continue;
      }
      const key = next.join(' ');
      byNewFlags.set(key, [...(byNewFlags.get(key) ?? []), row.uid]);
      updated.push({ uid: row.uid, flags: next, modseq: 0 });
    }
    if (byNewFlags.size === 0) return { updated, modified, modseq: 0 };
    const modseq = await bumpModseq(trx, folder.id);
    for (const [text, group] of byNewFlags) {
      const [only] = group;
      if (only !== undefined && group.length === 1) {
        await setFlagsOfOne.run(trx, { folderId: folder.id, uid: only, flags: text, modseq });
        continue;
      }
      for (const batch of batches(group)) {
        await trx
          .updateTable('messages')
          .set({ flags: text, modseq })
          .where('mailbox_id', '=', folder.id)
          .where('uid', 'in', batch)
          .execute();
      }
    }
    for (const u of updated) if (u.modseq === 0) u.modseq = modseq;
    return { updated, modified, modseq };
  });
  if (result.modseq) publish(deps, folder, 'flags', result.modseq);
  return { updated: result.updated, modified: result.modified, modseq: result.modseq };
}

export function applyFlagChange(current: string[], change: FlagChange, flags: string[]): string[] {
  const canonical = (flag: string) => (flag.startsWith('\\') ? systemFlag(flag) : flag);
  const given = flags.map(canonical);
  let next: string[];
  if (change === 'set') next = given;
  else if (change === 'add') next = [...current, ...given];
  else {
    const removed = new Set(given.map((f) => f.toLowerCase()));
    next = current.filter((f) => !removed.has(f.toLowerCase()));
  }
  const seen = new Set<string>();
  return next.filter((f) => !seen.has(f.toLowerCase()) && seen.add(f.toLowerCase())).sort();
}

const systemFlags = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
/** System flags in their canonical spelling (clients may send \SEEN). */
export function systemFlag(flag: string): string {
  return systemFlags.find((f) => f.toLowerCase() === flag.toLowerCase()) ?? flag;
}

/** Removes the messages flagged \Deleted (all of them, or those among `uids`). Returns the UIDs removed. */
export async function expungeDeleted(deps: MessageDeps, folder: Folder, uids?: number[]): Promise<number[]> {
  // Candidates from the folder index (no scan of the folder's rows); their flags are checked again
  // in the transaction. A \Deleted set after this point is left for the next EXPUNGE, as if it came later.
  const flagged =
    uids ??
    (await deps.index.messages(deps.db, folder.id)).filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid);
  if (flagged.length === 0) return [];
  const result = await relaxedCommit(deps.db, async (trx) => {
    const candidates = await messagesByUid(trx, folder.id, flagged);
    const doomed = candidates.filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid);
    if (doomed.length === 0) return { removed: doomed, modseq: 0 };
    return { removed: doomed, modseq: await removeMessages(trx, folder.id, doomed) };
  });
  if (result.modseq) publish(deps, folder, 'expunge', result.modseq);
  return result.removed;
}

/** Removes these messages whatever their flags (POP3 DELE, committed at QUIT). Returns how many went. */
export async function deleteMessages(deps: MessageDeps, folder: Folder, uids: number[]): Promise<number> {
  if (uids.length === 0) return 0;
  const result = await groupCommit(deps.db, async (trx) => {
    const present = (await messagesByUid(trx, folder.id, uids)).map((m) => m.uid);
    return { removed: present.length, modseq: present.length ? await removeMessages(trx, folder.id, present) : 0 };
  });
  if (result.modseq) publish(deps, folder, 'expunge', result.modseq);
  return result.removed;
}

type Removed = { uid: number; email_id: number; thread_id: number };
const deleteOne = new PreparedQuery<{ folderId: number; uid: number }, Removed>((db, arg) =>
  db
    .deleteFrom('messages')
    .where('mailbox_id', '=', arg('folderId'))
    .where('uid', '=', arg('uid'))
    .returning(['uid', 'email_id', 'thread_id']),
);

/** Removes the rows and logs each expunge with the Email and Thread it took (for JMAP's /changes). */
async function removeMessages(trx: Transaction<Database>, folderId: number, uids: number[]): Promise<number> {
  const modseq = await bumpModseq(trx, folderId);
  const logged = (rows: Removed[]) =>
    rows.map((r) => ({ mailbox_id: folderId, uid: r.uid, modseq, email_id: r.email_id, thread_id: r.thread_id }));
  const [only] = uids;
  if (only !== undefined && uids.length === 1) {
    const removed = await deleteOne.rows(trx, { folderId, uid: only });
    if (removed.length) await trx.insertInto('mailbox_expunges').values(logged(removed)).execute();
    return modseq;
  }
  for (const slice of batches(uids)) {
    const removed = await trx
      .deleteFrom('messages')
      .where('mailbox_id', '=', folderId)
      .where('uid', 'in', slice)
      .returning(['uid', 'email_id', 'thread_id'])
      .execute();
    if (removed.length) await trx.insertInto('mailbox_expunges').values(logged(removed)).execute();
  }
  return modseq;
}

/**
 * Copies the messages with these UIDs into `target` (with `move`, removing them from `source` in the
 * same transaction). Returns [source UID, new UID] pairs in source UID order.
 */
export async function copyMessages(
  deps: MessageDeps,
  source: Folder,
  uids: number[],
  target: Folder,
  options: { move: boolean; quotaBytes: number | null },
) {
  const now = deps.now();
  const rows = await messagesByUid(deps.db, source.id, uids);
  // Within an account a copy stays in its conversation (a move is the same Email, a copy a new one);
  // into another account's folder (a shared one) it is placed there as a new message would be.
  const sameAccount = source.principal_id === target.principal_id;
  const placements = new Map<number, ThreadPlacement>();
  for (const row of rows)
    placements.set(
      row.uid,
      sameAccount
        ? { threadId: row.threadId, messageKey: row.messageKey ?? null, rootKey: row.rootKey ?? null }
        : await placeContentInThread(deps.db, target.principal_id, row.blobHash),
    );
  if (!options.move)
    await checkQuota(
      deps.db,
      target.principal_id,
      options.quotaBytes,
      rows.reduce((sum, r) => sum + r.size, 0),
    );
  const result = await groupCommit(deps.db, async (trx) => {
    if (options.move) await lockFolders(trx, [source.id, target.id]);
    const pairs: [number, number][] = [];
    let targetModseq = 0;
    for (const row of rows) {
      const appended = await appendMessage(
        trx,
        {
          mailboxId: target.id,
          tenantId: target.tenant_id,
          blobHash: row.blobHash,
          prefix: row.prefix,
          size: row.size,
          flags: row.flags,
          internalDate: row.internalDate,
          emailId: options.move && sameAccount ? row.emailId : undefined,
          thread: placements.get(row.uid),
        },
        now,
      );
      pairs.push([row.uid, appended.uid]);
      targetModseq = appended.modseq;
    }
    const sourceModseq =
      options.move && rows.length
        ? await removeMessages(
            trx,
            source.id,
            rows.map((r) => r.uid),
          )
        : 0;
    return { pairs, targetModseq, sourceModseq };
  });
  if (result.targetModseq) publish(deps, target, 'append', result.targetModseq);
  if (result.sourceModseq) publish(deps, source, 'expunge', result.sourceModseq);
  if (rows.length) deps.copied?.({ source, target, move: options.move, messages: rows });
  return result.pairs;
}

/**
 * Stores `content` as a new message in `folder` (IMAP APPEND, saving a draft or a sent copy). Small
 * content, its metadata and the message row are written in one transaction: one commit per APPEND.
 */
export async function appendContent(
  deps: MessageDeps,
  folder: Folder,
  content: Buffer,
  options: { flags: string[]; internalDate?: number; quotaBytes: number | null },
) {
  await checkQuota(deps.db, folder.principal_id, options.quotaBytes, content.length);
  const now = deps.now();
  const inline = content.length <= inlineBlobLimit ? inlineBlob(content) : undefined;
  const blob = inline ?? (await deps.blobs.put(content));
  const computed = computeMetadata(content);
  const appended = await groupCommit(deps.db, async (trx) => {
    if (inline) await writeInlineBlob(trx, inline, now);
    await storeMetadata(trx, deps.dialect, blob.hash, computed, now);
    const thread = await placeInThread(trx, folder.principal_id, threadHeadersOf(computed.metadata.headers));
    return appendMessage(
      trx,
      {
        mailboxId: folder.id,
        tenantId: folder.tenant_id,
        blobHash: blob.hash,
        prefix: '',
        size: content.length,
        flags: applyFlagChange([], 'add', options.flags),
        internalDate: options.internalDate ?? now,
        thread,
      },
      now,
    );
  });
  publish(deps, folder, 'append', appended.modseq);
  return appended;
}
