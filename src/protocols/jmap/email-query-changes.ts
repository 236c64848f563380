// Email/queryChanges (RFC 8620 5.6, RFC 8621 4.5): how the results of an Email/query moved since a
// queryState (the account's state: each folder's MODSEQ and UIDNEXT), for any filter and sort, with
// or without collapseThreads.
//
// The change log is the one Email/changes reads (email-change-log.ts): each folder's rows whose MODSEQ
// passed the state's and its expunge log after it. Whether an Email is in the results, and where,
// depends on its own row (folder, keywords, date, size, content; ties by folder and UID) — and, for
// queries that look at threads (collapseThreads, the thread keyword filters and sorts), on the rows
// of the other Emails of its thread, in any folder. So the Emails that can have moved are those of
// the rows changed or expunged since the state, and for those queries every Email of a thread one
// of them belongs to. Each of these is `removed` (it may have been in the results: an id the client
// does not hold is ignored, RFC 8620 5.6) and, when in the results now, `added` at its index. Every
// other Email kept its membership and its place relative to the rest, so a client that splices
// these out and in holds the new results. A move is an expunge in one folder and a new row in
// another; a rename keeps the rows. Only the folders that can matter are read: the query's one
// Mailbox (inMailbox), or every folder when the query reads them all or looks at threads.
//
// What cannot be calculated: a folder that mattered destroyed since the state (its expunge log went
// with it), more than 5,000 Emails to tell, or a state this server did not make.
//
// upToId, for an order of properties an Email keeps (receivedAt, size, from, to, subject, sentAt;
// not keywords or threads, where it is ignored as RFC 8620 5.6 allows): when the upToId Email is in
// the results in a row older than the state, it had this place then too, and so had every such row
// after it; those the client never held are left out of removed and added.
import type { IndexedMessage } from '../../mailbox/folder-index.ts';
import { changedSince, expungedSince } from '../../mailbox/messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { emailId } from './jmap-ids.ts';
import { maxChangesLimit } from './jmap-limits.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { decodeState, type FolderState } from './jmap-state.ts';
import { indexOfEmail, runEmailQuery, type QueryDependence } from './email-query.ts';

const cannot = (why: string) => new MethodError('cannotCalculateChanges', `${why}: run Email/query again`);

/** The Emails whose place in the results may have changed since the state (by Email id). */
async function movedEmails(
  context: JmapCallContext,
  since: Map<number, FolderState>,
  query: QueryDependence,
): Promise<Set<number>> {
  const { mail } = context;
  const { folders, folderId, byThread } = query;
  const oneFolder = byThread ? undefined : folderId;
  const present = new Set(folders.map((f) => f.id));
  // A destroyed folder takes its expunge log with it.
  const gone = [...since.keys()].filter((id) => !present.has(id) && (oneFolder === undefined || id === oneFolder));
  if (gone.length) throw cannot('a Mailbox was destroyed since that state');
  const emails = new Set<number>();
  const threads = new Set<number>();
  for (const folder of folders) {
    if (oneFolder !== undefined && folder.id !== oneFolder) continue;
    const modseq = since.get(folder.id)?.modseq ?? 0;
    if (Number(folder.highest_modseq) <= modseq) continue;
    for (const row of await changedSince.rows(mail.db, { folderId: folder.id, modseq })) {
      emails.add(Number(row.email_id));
      threads.add(Number(row.thread_id));
    }
    // Expunges from before migration 22 name no Email; no state of this version reaches back to them.
    for (const row of await expungedSince.rows(mail.db, { folderId: folder.id, modseq }))
      if (row.email_id !== null) {
        emails.add(Number(row.email_id));
        threads.add(Number(row.thread_id));
      }
    if (emails.size > maxChangesLimit) break;
  }
  if (byThread && threads.size && emails.size <= maxChangesLimit)
    for (const message of await query.candidates()) if (threads.has(message.threadId)) emails.add(message.emailId);
  if (emails.size > maxChangesLimit) throw cannot(`more than ${maxChangesLimit} Emails changed since that state`);
  return emails;
}

const emailQueryChanges: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const since = decodeState(args.sinceQueryState);
    const { maxChanges, upToId } = args;
    if (
      maxChanges !== undefined &&
      maxChanges !== null &&
      (typeof maxChanges !== 'number' || !Number.isInteger(maxChanges) || maxChanges < 0)
    )
      throw invalidArguments('maxChanges must be an unsigned integer');
    if (upToId !== undefined && upToId !== null && typeof upToId !== 'string')
      throw invalidArguments('upToId must be an id');
    const { accountId, state, results, changes } = await runEmailQuery(args, context);
    if (!since) throw cannot('sinceQueryState is not a state this server gave');
    const moved = await movedEmails(context, since, changes);

    // A row older than the state, in the same folder: it had its place in a fixed order then too.
    const wasThere = (message: IndexedMessage) => message.uid < (since.get(changes.folderOf(message))?.uidnext ?? 1);
    let upTo: number | undefined;
    if (typeof upToId === 'string' && changes.fixedOrder) {
      const at = indexOfEmail(results, upToId);
      if (at !== -1 && wasThere(results.at(at))) upTo = at;
    }

    const added: { id: string; index: number }[] = [];
    const leftOut = new Set<number>();
    for (let i = 0; i < results.length; i++) {
      const message = results.at(i);
      if (!moved.has(message.emailId)) continue;
      if (upTo === undefined || i <= upTo) added.push({ id: emailId(message.emailId), index: i });
      // After upToId in the order now and then: never held by the client.
      else if (wasThere(message)) leftOut.add(message.emailId);
    }
    const removed = [...moved].filter((id) => !leftOut.has(id));
    if (typeof maxChanges === 'number' && removed.length + added.length > maxChanges)
      throw new MethodError(
        'tooManyChanges',
        `${removed.length + added.length} changes, more than maxChanges (${maxChanges}): ask for more or query again`,
      );
    return {
      accountId,
      oldQueryState: args.sinceQueryState,
      newQueryState: state,
      ...(args.calculateTotal === true ? { total: results.length } : {}),
      removed: removed.map(emailId),
      added,
    };
  },
};

export const emailQueryChangesMethod: [string, JmapMethod<JmapCallContext>] = ['Email/queryChanges', emailQueryChanges];
