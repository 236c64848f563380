// What changed among an account's Emails and Threads since a state (RFC 8620 5.2), from the rows
// IMAP's QRESYNC reads: per folder, the messages whose MODSEQ passed the state's (new when their UID
// is at or past the state's UIDNEXT) and the expunge log after it, which names the Email and Thread
// each expunge took. With more changes than maxChanges, whole MODSEQ steps are answered, folder by
// folder, and the state says how far: a folder's MODSEQ moves up to the last step answered while its
// UIDNEXT stays, so what comes later is still told apart rightly.
//
// A folder sees rows, JMAP shows Emails: a move is an expunge in one folder and a new row (the same
// email_id) in another. So the rows' changes are gathered per Email and judged once: an Email that
// existed at the state (an older row changed or expunged) and exists now is updated; one that existed
// and does not is destroyed; one that is new and exists is created; one that came and went since is
// reported destroyed (RFC 8620 5.2 allows it). An Email whose only changes are expunges is looked up,
// as the row it moved to may lie beyond this page of changes.
//
// Threads change when their Emails do (Thread objects hold only emailIds): a thread with an Email
// created or destroyed since the state is created (its first Email, whose id it carries, is new),
// destroyed (it has no Email now) or else updated. Moves and keyword changes leave threads alone.
import { livingThreads, messagesByEmailId } from '../../mailbox/account-messages.ts';
import { changedSince, expungedSince } from '../../mailbox/messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError } from './jmap-errors.ts';
import { encodeState, folderStateOf, type FolderState } from './jmap-state.ts';
import { accountFolders } from './mail-folders.ts';

interface RowChange {
  emailId: number;
  threadId: number;
  modseq: number;
  uid: number;
  /** The row is there now (else it was expunged). */
  present: boolean;
  /** The row was there at the state (its UID is below the state's UIDNEXT). */
  old: boolean;
}

export interface ChangeLists {
  created: number[];
  updated: number[];
  destroyed: number[];
}

export interface AccountChanges {
  emails: ChangeLists;
  threads: ChangeLists;
  newState: string;
  hasMoreChanges: boolean;
}

/** Rows changed in each folder since the state, in whole MODSEQ steps up to `limit`. */
async function rowChanges(context: JmapCallContext, since: Map<number, FolderState>, limit: number) {
  const { mail } = context;
  const { folders, state } = await accountFolders(mail.db, context.principal, mail.now());
  const present = new Set(folders.map((f) => f.id));
  // A deleted folder takes its expunge log with it: which messages went is not known any more.
  if ([...since.keys()].some((id) => !present.has(id)))
    throw new MethodError('cannotCalculateChanges', 'a folder was deleted since that state: fetch the Emails again');
  const taken: RowChange[] = [];
  const next: FolderState[] = [];
  let room = limit;
  let hasMoreChanges = false;
  for (const folder of [...folders].sort((a, b) => a.id - b.id)) {
    const current = folderStateOf(folder);
    const old = since.get(folder.id) ?? { ...current, modseq: 0, uidnext: 1 };
    if (hasMoreChanges || old.modseq >= current.modseq) {
      next.push(hasMoreChanges ? { ...current, modseq: old.modseq, uidnext: old.uidnext } : current);
      if (hasMoreChanges && !since.has(folder.id)) next.pop(); // a folder not reached stays unknown
      continue;
    }
    const changes: RowChange[] = [
      ...(await changedSince.rows(mail.db, { folderId: folder.id, modseq: old.modseq })).map((r) => ({
        emailId: Number(r.email_id),
        threadId: Number(r.thread_id),
        modseq: Number(r.modseq),
        uid: Number(r.uid),
        present: true,
        old: Number(r.uid) < old.uidnext,
      })),
      ...(await expungedSince.rows(mail.db, { folderId: folder.id, modseq: old.modseq }))
        // Expunges from before migration 22 name no Email; no state of this version reaches back to them.
        .filter((r) => r.email_id !== null)
        .map((r) => ({
          emailId: Number(r.email_id),
          threadId: Number(r.thread_id),
          modseq: Number(r.modseq),
          uid: Number(r.uid),
          present: false,
          old: Number(r.uid) < old.uidnext,
        })),
    ].sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
    // Whole MODSEQ steps while they fit.
    let count = 0;
    while (count < changes.length) {
      const step = changes[count]!.modseq;
      let end = count;
      while (end < changes.length && changes[end]!.modseq === step) end++;
      if (end - count > room) break;
      room -= end - count;
      count = end;
    }
    taken.push(...changes.slice(0, count));
    if (count === changes.length) {
      next.push(current);
      continue;
    }
    if (taken.length === 0)
      throw new MethodError(
        'cannotCalculateChanges',
        `one change touched more than ${limit} Emails: fetch them again, or ask with a larger maxChanges`,
      );
    hasMoreChanges = true;
    const reached = count ? changes[count - 1]!.modseq : old.modseq;
    if (count || since.has(folder.id)) next.push({ ...current, modseq: reached, uidnext: old.uidnext });
  }
  return { taken, hasMoreChanges, newState: hasMoreChanges ? encodeState(next) : state };
}

export async function accountChanges(
  context: JmapCallContext,
  since: Map<number, FolderState>,
  limit: number,
): Promise<AccountChanges> {
  const { taken, hasMoreChanges, newState } = await rowChanges(context, since, limit);
  const byEmail = new Map<number, RowChange[]>();
  for (const change of taken) {
    const list = byEmail.get(change.emailId);
    if (list) list.push(change);
    else byEmail.set(change.emailId, [change]);
  }
  // Emails seen only leaving a folder: are they somewhere else now?
  const onlyGone = [...byEmail].filter(([, list]) => list.every((c) => !c.present)).map(([id]) => id);
  const elsewhere = new Set(
    (await messagesByEmailId(context.mail.db, context.principal.id, onlyGone)).map((row) => row.emailId),
  );
  const emails: ChangeLists = { created: [], updated: [], destroyed: [] };
  const newEmails = new Set<number>();
  const touchedThreads = new Set<number>();
  for (const [id, list] of byEmail) {
    const existed = list.some((c) => c.old);
    const exists = list.some((c) => c.present) || elsewhere.has(id);
    if (!existed) newEmails.add(id);
    if (existed && exists) emails.updated.push(id);
    else if (exists) emails.created.push(id);
    else emails.destroyed.push(id);
    if (!(existed && exists)) touchedThreads.add(list[0]!.threadId);
  }
  const threads: ChangeLists = { created: [], updated: [], destroyed: [] };
  const living = await livingThreads(context.mail.db, context.principal.id, [...touchedThreads]);
  for (const id of touchedThreads) {
    if (!living.has(id)) threads.destroyed.push(id);
    else if (newEmails.has(id)) threads.created.push(id);
    else threads.updated.push(id);
  }
  return { emails, threads, newState, hasMoreChanges };
}
