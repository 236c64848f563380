// Email/queryChanges (RFC 8620 5.6, RFC 8621 4.5): how the results of an Email/query moved since a
// queryState, for the queries Email/query answers with canCalculateChanges — those within one
// Mailbox (inMailbox) whose conditions look only at the message itself (keywords, dates, sizes,
// text), without collapseThreads or the thread keyword filters. Any other answers
// cannotCalculateChanges, and the client queries again.
//
// The change log is the one Email/changes reads (email-change-log.ts): the folder's rows whose MODSEQ
// passed the state's and its expunge log after it. Within one folder, whether a message is in the
// results and where depend on that message's row alone (its flags, date, size and content; ties by
// UID), so the Emails of rows changed or expunged since the state are all that can have moved:
// each is `removed` (it may have been in the results; an extra one is allowed, RFC 8620 5.6) and,
// when in the results now, `added` at its index. Every other Email kept its place relative to the
// rest, so a client that splices these out and in holds the new results. A move is an expunge here
// and a new row there; a rename keeps the rows.
//
// upToId: a row's place in the order never changes while it stays in the folder, so when the upToId
// Email is in the results in a row older than the state, changes of rows after it in the order are
// left out (Emails whose row is gone are always told: where they were is not known any more).
import { changedSince, expungedSince } from '../../mailbox/messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { emailId } from './jmap-ids.ts';
import { maxChangesLimit } from './jmap-limits.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { decodeState } from './jmap-state.ts';
import { indexOfEmail, runEmailQuery } from './email-query.ts';

const cannot = (why: string) => new MethodError('cannotCalculateChanges', `${why}: run Email/query again`);

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
    if (!changes)
      throw cannot(
        'changes are calculated for queries within one Mailbox (inMailbox), without collapseThreads or thread keyword filters',
      );
    const { mail } = context;
    const { folderId, exists, messages, compare } = changes;
    const old = since.get(folderId);
    // A destroyed folder takes its expunge log with it.
    if (old && !exists) throw cannot('the Mailbox was destroyed since that state');
    const fromModseq = old?.modseq ?? 0;
    const fromUidnext = old?.uidnext ?? 1;

    // The Emails of the rows changed or expunged since the state, with the row each has now (if any).
    const changed = new Set<number>();
    for (const row of await changedSince.rows(mail.db, { folderId, modseq: fromModseq }))
      changed.add(Number(row.email_id));
    for (const row of await expungedSince.rows(mail.db, { folderId, modseq: fromModseq }))
      if (row.email_id !== null) changed.add(Number(row.email_id));
    if (changed.size > maxChangesLimit) throw cannot(`more than ${maxChangesLimit} Emails changed since that state`);

    // Where upToId is, when its row's place is the one it had at the state.
    let upTo: number | undefined;
    if (typeof upToId === 'string') {
      const at = indexOfEmail(results, upToId);
      if (at !== -1 && results.at(at).uid < fromUidnext) upTo = at;
    }
    const upToRow = upTo === undefined ? undefined : results.at(upTo);

    const added: { id: string; index: number }[] = [];
    const end = upTo === undefined ? results.length : upTo + 1;
    for (let i = 0; i < end; i++) {
      const id = results.at(i).emailId;
      if (changed.has(id)) added.push({ id: emailId(id), index: i });
    }
    let removed = [...changed];
    if (upToRow) {
      // A row that was there at the state and comes after upToId in the order was after it then too.
      const rowOf = new Map((await messages()).filter((m) => changed.has(m.emailId)).map((m) => [m.emailId, m]));
      removed = removed.filter((id) => {
        const row = rowOf.get(id);
        return !row || row.uid >= fromUidnext || compare(row, upToRow) <= 0;
      });
    }
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
