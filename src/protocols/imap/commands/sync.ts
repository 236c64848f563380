// Telling the client what changed in its selected folder since it last heard: expunges (EXPUNGE, or
// VANISHED once QRESYNC is enabled), new messages (EXISTS) and flag changes (FETCH FLAGS).
import { atom } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';
import { flagList, uidSetText } from './values.ts';

export async function syncSelected(session: ImapSession, expungeAllowed: boolean) {
  const selected = session.selected;
  if (!selected) return;
  const changes = await selected.sync(session.context.mail.db, expungeAllowed);
  if (changes.expunged.length) {
    if (session.enabled.has('QRESYNC')) session.untagged(atom('VANISHED'), atom(uidSetText(changes.expunged.map((e) => e.uid))));
    else for (const { seq } of changes.expunged) session.untagged(seq, atom('EXPUNGE'));
  }
  if (changes.exists !== undefined) session.untagged(changes.exists, atom('EXISTS'));
  for (const { seq, state } of changes.flags) {
    if (!seq) continue;
    const items = [atom('UID'), state.uid, atom('FLAGS'), flagList(state.flags)];
    if (session.condstore) items.push(atom('MODSEQ'), [state.modseq]);
    session.untagged(seq, atom('FETCH'), items);
  }
}
