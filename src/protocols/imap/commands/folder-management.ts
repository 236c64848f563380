// CREATE (with CREATE-SPECIAL-USE), DELETE, RENAME and SUBSCRIBE/UNSUBSCRIBE.
import {
  createFolder,
  deleteFolder,
  findFolder,
  folderDelimiter,
  normalizeFolderName,
  renameFolder,
  setSubscribed,
} from '../../../mailbox/folders.ts';
import { copyMessages, listMessageStates } from '../../../mailbox/messages.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { Args } from '../parser/args.ts';
import { ParseError } from '../parser/tokenizer.ts';
import type { AuthenticatedCommand } from './index.ts';
import { folderArg, refuseShared } from './values.ts';

export async function createCommand({ session, args, principal }: AuthenticatedCommand) {
  const name = folderArg(session, args).replace(/\/$/, '');
  refuseShared(name);
  let specialUse: string | null = null;
  const params = args.optionalList();
  args.end();
  if (params) {
    const p = new Args(params);
    if (p.atom('CREATE parameter').toUpperCase() !== 'USE') throw new ParseError('Unknown CREATE parameter');
    const uses = p.list('special uses');
    p.end();
    const [use] = uses;
    if (uses.length !== 1 || use?.kind !== 'atom') throw new ImapNo('Exactly one special use per folder', 'USEATTR');
    specialUse = use.value;
  }
  const { db, now } = session.context.mail;
  try {
    const normalized = normalizeFolderName(name);
    // Superior levels are created too, so the new folder has a real parent.
    const levels = normalized.split(folderDelimiter);
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join(folderDelimiter);
      if (!(await findFolder(db, principal.id, parent))) await createFolder(db, principal, parent, null, now());
    }
    await createFolder(db, principal, normalized, specialUse, now());
  } catch (error) {
    if (error instanceof ImapNo) throw error;
    if ((error as { code?: string }).code === 'bad-special-use') throw new ImapNo((error as Error).message, 'USEATTR');
    asImapNo(error);
  }
  return 'CREATE completed';
}

export async function deleteCommand({ session, args, principal }: AuthenticatedCommand) {
  const name = folderArg(session, args);
  refuseShared(name);
  args.end();
  const { db } = session.context.mail;
  try {
    const deleted = await deleteFolder(db, principal.id, name);
    if (session.selected?.folder.id === deleted.id) session.deselect();
  } catch (error) {
    asImapNo(error);
  }
  return 'DELETE completed';
}

export async function renameCommand({ session, args, principal }: AuthenticatedCommand) {
  const from = folderArg(session, args);
  const to = folderArg(session, args);
  refuseShared(from);
  refuseShared(to);
  args.end();
  const { db, now } = session.context.mail;
  try {
    if (normalizeFolderName(from) === 'INBOX') {
      // Renaming INBOX moves its messages to the new folder; INBOX stays, empty (RFC 9051 6.3.6).
      const inbox = (await findFolder(db, principal.id, 'INBOX'))!;
      await createFolder(db, principal, to, null, now());
      const target = (await findFolder(db, principal.id, normalizeFolderName(to)))!;
      const uids = (await listMessageStates(db, inbox.id)).map((m) => m.uid);
      if (uids.length) await copyMessages(session.context.mail, inbox, uids, target, { move: true, quotaBytes: null });
    } else {
      await renameFolder(db, principal.id, from, to, now());
    }
  } catch (error) {
    asImapNo(error);
  }
  return 'RENAME completed';
}

export const subscribeCommand =
  (subscribe: boolean) =>
  async ({ session, args, principal }: AuthenticatedCommand) => {
    const name = folderArg(session, args);
    args.end();
    try {
      await setSubscribed(session.context.mail.db, principal.id, name, subscribe);
    } catch (error) {
      asImapNo(error);
    }
    return `${subscribe ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} completed`;
  };
