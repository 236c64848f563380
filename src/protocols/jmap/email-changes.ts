// Email/changes (RFC 8621 4.3) from the rows IMAP's QRESYNC reads: per folder, the messages whose
// MODSEQ passed the state's (created when their UID is at or past the state's UIDNEXT, else
// updated) and the expunge log after it (destroyed). With more changes than maxChanges, whole MODSEQ
// steps are answered, folder by folder, and the state says how far: a folder's MODSEQ moves up to
// the last step answered while its UIDNEXT stays, so what comes later is still told apart rightly.
import { changedSince, expungedSince } from '../../mailbox/messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { MethodError } from './jmap-errors.ts';
import { emailId } from './jmap-ids.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { encodeState, folderStateOf, type FolderState } from './jmap-state.ts';
import { accountFolders } from './mail-folders.ts';
import { changesArguments } from './method-arguments.ts';

interface Change {
  uid: number;
  modseq: number;
  kind: 'created' | 'updated' | 'destroyed';
}

const emailChanges: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const { accountId, since, limit } = changesArguments(args, context);
    const { mail } = context;
    const { folders, state } = await accountFolders(mail.db, context.principal, mail.now());
    const present = new Set(folders.map((f) => f.id));
    // A deleted folder takes its expunge log with it: which messages went is not known any more.
    if ([...since.keys()].some((id) => !present.has(id)))
      throw new MethodError('cannotCalculateChanges', 'a folder was deleted since that state: fetch the Emails again');
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
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
      const changes: Change[] = [
        ...(await changedSince.rows(mail.db, { folderId: folder.id, modseq: old.modseq })).map((r) => ({
          uid: Number(r.uid),
          modseq: Number(r.modseq),
          kind: Number(r.uid) >= old.uidnext ? ('created' as const) : ('updated' as const),
        })),
        ...(await expungedSince.rows(mail.db, { folderId: folder.id, modseq: old.modseq })).map((r) => ({
          uid: Number(r.uid),
          modseq: Number(r.modseq),
          kind: 'destroyed' as const,
        })),
      ].sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
      // Whole MODSEQ steps while they fit.
      let taken = 0;
      while (taken < changes.length) {
        const step = changes[taken]!.modseq;
        let end = taken;
        while (end < changes.length && changes[end]!.modseq === step) end++;
        if (end - taken > room) break;
        for (const change of changes.slice(taken, end)) {
          const id = emailId(folder.id, change.uid);
          (change.kind === 'created' ? created : change.kind === 'updated' ? updated : destroyed).push(id);
        }
        room -= end - taken;
        taken = end;
      }
      if (taken === changes.length) {
        next.push(current);
        continue;
      }
      if (created.length + updated.length + destroyed.length === 0)
        throw new MethodError(
          'cannotCalculateChanges',
          `one change touched more than ${limit} Emails: fetch them again, or ask with a larger maxChanges`,
        );
      hasMoreChanges = true;
      const reached = taken ? changes[taken - 1]!.modseq : old.modseq;
      if (taken || since.has(folder.id)) next.push({ ...current, modseq: reached, uidnext: old.uidnext });
    }
    return {
      accountId,
      oldState: args.sinceState,
      newState: hasMoreChanges ? encodeState(next) : state,
      hasMoreChanges,
      created,
      updated,
      destroyed,
    };
  },
};

export const emailChangesMethod: [string, JmapMethod<JmapCallContext>] = ['Email/changes', emailChanges];
