// Telling the client what changed in its selected folder since it last heard: expunges (EXPUNGE, or
// VANISHED once QRESYNC is enabled), keywords new to the folder (FLAGS and PERMANENTFLAGS, before
// any FETCH shows them), new messages (EXISTS, and RECENT for IMAP4rev1) and flag changes (FETCH FLAGS).
import { recentArrivals } from '../recent-messages.ts';
import { atom } from '../response/encode.ts';
import type { SelectedFolder } from '../selected-folder.ts';
import type { ImapSession } from '../session.ts';
import { flagList, systemFlags, uidSetText } from './values.ts';

export async function syncSelected(session: ImapSession, expungeAllowed: boolean) {
  const selected = session.selected;
  if (!selected) return;
  const recentBefore = selected.recent.size;
  const changes = await selected.sync(session.context.mail.db, expungeAllowed);
  if (changes.expunged.length) {
    if (session.enabled.has('QRESYNC'))
      session.untagged(atom('VANISHED'), atom(uidSetText(changes.expunged.map((e) => e.uid))));
    else for (const { seq } of changes.expunged) session.untagged(seq, atom('EXPUNGE'));
  }
  if (changes.keywordsGrew) announceFlags(session, selected);
  if (changes.exists !== undefined) session.untagged(changes.exists, atom('EXISTS'));
  if (!session.rev2) {
    // New mail is recent to the first read-write session that hears of it (EXAMINE only looks).
    for (const uid of await recentArrivals(
      session.context.mail.db,
      selected.folder.id,
      changes.added,
      !selected.readOnly,
    ))
      selected.recent.add(uid);
    // The count changes with new recent mail and with expunges of recent messages (as Dovecot tells).
    if (selected.recent.size !== recentBefore) session.untagged(selected.recent.size, atom('RECENT'));
  }
  for (const { seq, state } of changes.flags) {
    if (!seq) continue;
    const items = [atom('UID'), state.uid, atom('FLAGS'), flagList(selected.flagsFor(state.uid, state.flags))];
    if (session.condstore) items.push(atom('MODSEQ'), [state.modseq]);
    session.untagged(seq, atom('FETCH'), items);
  }
}

/** FLAGS and PERMANENTFLAGS of the selected folder: at SELECT, and again whenever a keyword is new to it. */
export function announceFlags(session: ImapSession, selected: SelectedFolder) {
  const flags = [...systemFlags, ...[...selected.keywords].sort()];
  session.untagged(atom('FLAGS'), flagList(flags));
  // EXAMINE: nothing can be changed, so no \* either (RFC 3501 section 6.3.2).
  const permanent = selected.readOnly ? '' : [...flags, '\\*'].join(' ');
  session.untagged(
    atom('OK'),
    atom(`[PERMANENTFLAGS (${permanent})]`),
    atom(selected.readOnly ? 'Read-only mailbox' : 'Flags permitted'),
  );
}

/** Before FETCH responses that show these flags: a FLAGS response first if one of them is a keyword new to the client. */
export function announceNewKeywords(
  session: ImapSession,
  selected: SelectedFolder,
  flagLists: readonly (readonly string[])[],
) {
  let grew = false;
  for (const flags of flagLists) if (selected.learnKeywords(flags)) grew = true;
  if (grew) announceFlags(session, selected);
}
