// SELECT/EXAMINE (with CONDSTORE and QRESYNC parameters), CLOSE, UNSELECT and EXPUNGE.
import { changesSince, expungeDeleted } from '../../../mailbox/messages.ts';
import { listedFolderName } from '../../../mailbox/shared-folders.ts';
import { ImapNo } from '../imap-error.ts';
import { Args, parseSequenceSet, inRanges } from '../parser/args.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { recentAtSelect } from '../recent-messages.ts';
import { atom } from '../response/encode.ts';
import { SelectedFolder } from '../selected-folder.ts';
import type { ImapSession } from '../session.ts';
import type { AuthenticatedCommand, SelectedCommand } from './index.ts';
import { listSelected } from './list.ts';
import { announceFlags } from './sync.ts';
import { decodeFolderName, flagList, requireFolder, uidSetText } from './values.ts';

export const selectCommand = (command: AuthenticatedCommand) => open(command, false);
export const examineCommand = (command: AuthenticatedCommand) => open(command, true);

async function open(command: AuthenticatedCommand, readOnly: boolean) {
  const { session, args } = command;
  // Decoded only once the command is known to be well-formed: a name that cannot be decoded fails the
  // SELECT (NO, after leaving the selected folder), as a name that does not exist does.
  const rawName = args.astring('folder name');
  let qresync: { uidvalidity: number; modseq: number; known?: ReturnType<typeof parseSequenceSet> } | undefined;
  const params = args.optionalList();
  args.end();
  if (params) {
    const p = new Args(params);
    while (p.more()) {
      const param = p.atom('SELECT parameter').toUpperCase();
      if (param === 'CONDSTORE') session.enabled.add('CONDSTORE');
      else if (param === 'QRESYNC') {
        if (!session.enabled.has('QRESYNC')) throw new ParseError('QRESYNC must be enabled first (ENABLE QRESYNC)');
        const q = new Args(p.list('QRESYNC parameters'));
        qresync = { uidvalidity: q.number('UIDVALIDITY'), modseq: q.number('MODSEQ') };
        if (q.more()) qresync.known = parseSequenceSet(q.atom('known UIDs'));
        if (q.more()) q.list('sequence match data');
        q.end();
      } else throw new ParseError(`Unknown SELECT parameter ${param}`);
    }
  }
  // Selecting another folder first closes the current one, without expunging; a SELECT that fails
  // leaves none selected (RFC 3501 6.3.1). [CLOSED] marks where responses about it end: RFC 7162
  // 3.2.11 asks it of a server announcing QRESYNC whatever the client enabled, and Dovecot sends it
  // to every client. A BAD command is not run at all and leaves the folder selected.
  if (session.selected) {
    session.deselect();
    session.untagged(atom('OK'), atom('[CLOSED]'), atom('Previous mailbox closed'));
  }
  const { db, index } = session.context.mail;
  const name = decodeFolderName(session, rawName);
  const folder = await requireFolder(command, name, 'NONEXISTENT', 'missing');
  const messages = await index.messages(db, folder.id, Number(folder.highest_modseq));
  const selected = new SelectedFolder(folder, messages, readOnly);
  announceFlags(session, selected);
  session.untagged(messages.length, atom('EXISTS'));
  if (!session.rev2) {
    // IMAP4rev1: the messages no session has seen yet are recent to this one; SELECT takes them for
    // itself, EXAMINE only looks (RFC 3501 2.3.2, 6.3.2). IMAP4rev2 sessions neither see nor take them.
    for (const uid of await recentAtSelect(db, folder, messages, !readOnly)) selected.recent.add(uid);
    session.untagged(selected.recent.size, atom('RECENT'));
    const firstUnseen = messages.findIndex((m) => !m.flags.includes('\\Seen'));
    if (firstUnseen >= 0) session.untagged(atom('OK'), atom(`[UNSEEN ${firstUnseen + 1}]`), atom('First unseen'));
  }
  session.untagged(atom('OK'), atom(`[UIDVALIDITY ${folder.uidvalidity}]`), atom('UIDs valid'));
  session.untagged(atom('OK'), atom(`[UIDNEXT ${folder.uidnext}]`), atom('Predicted next UID'));
  session.untagged(atom('OK'), atom(`[HIGHESTMODSEQ ${folder.highest_modseq}]`), atom('Highest'));
  session.untagged(atom('OK'), atom(`[MAILBOXID (F${folder.id})]`), atom('Ok'));
  if (session.rev2) await listSelected(command, listedFolderName(name));
  if (qresync && qresync.uidvalidity === Number(folder.uidvalidity)) await resync(session, selected, qresync);
  session.state = { name: 'selected', principal: command.principal, selected };
  return `[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`;
}

/** QRESYNC: what the client missed since the MODSEQ it remembers, as VANISHED (EARLIER) and FETCH. */
async function resync(
  session: ImapSession,
  selected: SelectedFolder,
  q: { modseq: number; known?: ReturnType<typeof parseSequenceSet> },
) {
  const changes = await changesSince(session.context.mail.db, selected.folder.id, q.modseq);
  const known = q.known && !q.known.saved ? q.known.ranges : undefined;
  const vanished = changes.expunged.filter((uid) => !known || inRanges(known, uid, Number.MAX_SAFE_INTEGER));
  if (vanished.length) session.untagged(atom('VANISHED'), atom('(EARLIER)'), atom(uidSetText([...new Set(vanished)])));
  for (const state of changes.changed) {
    const seq = selected.seqOf(state.uid);
    if (seq)
      session.untagged(seq, atom('FETCH'), [
        atom('UID'),
        state.uid,
        atom('FLAGS'),
        flagList(selected.flagsFor(state.uid, state.flags)),
        atom('MODSEQ'),
        [state.modseq],
      ]);
  }
}

export async function closeCommand({ session, args, selected }: SelectedCommand) {
  args.end();
  if (!selected.readOnly) await expungeDeleted(session.context.mail, selected.folder);
  session.deselect();
  return 'CLOSE completed';
}

export async function unselectCommand({ session, args }: SelectedCommand) {
  args.end();
  session.deselect();
  return 'UNSELECT completed';
}

export async function expungeCommand({ session, args, uid, selected }: SelectedCommand) {
  const uids = uid ? selected.resolve(parseSequenceSet(args.atom('UID set')), true) : undefined;
  args.end();
  if (selected.readOnly) throw new ImapNo('The folder is open read-only (EXAMINE)', 'READ-ONLY');
  await expungeDeleted(session.context.mail, selected.folder, uids);
  // The EXPUNGE responses themselves come from the sync that follows every command.
  return 'EXPUNGE completed';
}
