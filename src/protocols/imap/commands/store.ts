// STORE: change flags, with .SILENT and CONDSTORE's UNCHANGEDSINCE (messages modified since are left
// alone and named in [MODIFIED ...]).
import { storeFlags, type FlagChange } from '../../../mailbox/messages.ts';
import { ImapNo } from '../imap-error.ts';
import { Args, parseSequenceSet } from '../parser/args.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { atom, type Value } from '../response/encode.ts';
import type { SelectedCommand } from './index.ts';
import { announceNewKeywords } from './sync.ts';
import { flagArg, flagList, uidSetText } from './values.ts';

export async function storeCommand({ session, args, uid, selected }: SelectedCommand) {
  const set = parseSequenceSet(args.atom(uid ? 'UID set' : 'sequence set'));
  let unchangedSince: number | undefined;
  const modifiers = args.optionalList();
  if (modifiers) {
    const m = new Args(modifiers);
    if (m.atom('STORE modifier').toUpperCase() !== 'UNCHANGEDSINCE') throw new ParseError('Unknown STORE modifier');
    unchangedSince = m.number('UNCHANGEDSINCE value');
    m.end();
    session.enableCondstore();
  }
  const action = args.atom('STORE action').toUpperCase();
  const match = /^([+-]?)FLAGS(\.SILENT)?$/.exec(action);
  if (!match)
    throw new ParseError(`Unknown STORE action ${action} (expected FLAGS, +FLAGS or -FLAGS, optionally .SILENT)`);
  const change: FlagChange = match[1] === '+' ? 'add' : match[1] === '-' ? 'remove' : 'set';
  const silent = match[2] !== undefined;
  const flagTokens = args.optionalList() ?? [];
  if (!flagTokens.length) while (args.more()) flagTokens.push(args.next('flag'));
  args.end();
  const flags = flagTokens.map(flagArg);
  if (selected.readOnly) throw new ImapNo('The folder is open read-only (EXAMINE)', 'READ-ONLY');
  const uids = selected.resolve(set, uid);
  const result = await storeFlags(session.context.mail, selected.folder, uids, change, flags, unchangedSince);
  announceNewKeywords(
    session,
    selected,
    result.updated.map((state) => state.flags),
  );
  for (const state of result.updated) {
    const seq = selected.seqOf(state.uid);
    selected.remember(state);
    if (!seq) continue;
    // With UNCHANGEDSINCE the new MODSEQ is reported even when silent (RFC 7162 3.1.3).
    if (silent && unchangedSince === undefined) continue;
    const items: Value[] = [];
    if (uid) items.push(atom('UID'), state.uid);
    if (!silent) items.push(atom('FLAGS'), flagList(selected.flagsFor(state.uid, state.flags)));
    if (session.condstore) items.push(atom('MODSEQ'), [state.modseq]);
    session.untagged(seq, atom('FETCH'), items);
  }
  if (result.modseq) selected.madeChange(result.modseq);
  if (result.modified.length) {
    const numbers = uid ? result.modified : result.modified.map((u) => selected.seqOf(u)).filter(Boolean);
    return `[MODIFIED ${uidSetText(numbers)}] Some messages were modified since then`;
  }
  return 'STORE completed';
}
