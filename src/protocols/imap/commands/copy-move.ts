// COPY and MOVE (RFC 6851), with UIDPLUS's COPYUID so clients learn the new UIDs.
import { copyMessages } from '../../../mailbox/messages.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { parseSequenceSet } from '../parser/args.ts';
import { atom } from '../response/encode.ts';
import type { SelectedCommand } from './index.ts';
import { folderArg, quotaOf, requireFolder, uidSetText } from './values.ts';

export const copyCommand = (move: boolean) => async (command: SelectedCommand) => {
  const { session, args, uid, selected } = command;
  const set = parseSequenceSet(args.atom(uid ? 'UID set' : 'sequence set'));
  const name = folderArg(session, args);
  args.end();
  const uids = selected.resolve(set, uid);
  if (move && selected.readOnly) throw new ImapNo('The folder is open read-only (EXAMINE)', 'READ-ONLY');
  const target = await requireFolder(command, name, 'TRYCREATE', 'refuse');
  const verb = move ? 'MOVE' : 'COPY';
  if (uids.length === 0) return `${verb} completed (no messages)`;
  let pairs: [number, number][];
  try {
    pairs = await copyMessages(session.context.mail, selected.folder, uids, target, {
      move,
      quotaBytes: await quotaOf(command, target),
    });
  } catch (error) {
    asImapNo(error);
  }
  if (pairs.length === 0) return `${verb} completed (no messages)`;
  // Ascending on both sides, pair by pair, so the compact sets (1:3) still match one to one.
  const copyUid = `COPYUID ${target.uidvalidity} ${uidSetText(pairs.map((p) => p[0]))} ${uidSetText(pairs.map((p) => p[1]))}`;
  // MOVE reports COPYUID before the expunges (which the sync after the command sends).
  if (move) {
    session.untagged(atom('OK'), atom(`[${copyUid}]`), 'Moved');
    return `${verb} completed`;
  }
  return `[${copyUid}] ${verb} completed`;
};
