// ACL (RFC 4314), read side: who may use a folder and with which rights. Access to another mailbox
// is granted by an administrator (`holdfast shared grant <mailbox> <user> --full-access`), so SETACL
// and DELETEACL answer NO with where to do it.
import { fullRights, granteesOf, ownerRights } from '../../../mailbox/shared-folders.ts';
import { ImapNo } from '../imap-error.ts';
import { atom } from '../response/encode.ts';
import type { CommandInput } from './index.ts';
import { folderArg, folderOut, requireFolder } from './values.ts';

export async function myRightsCommand({ session, args }: CommandInput) {
  const name = folderArg(session, args);
  args.end();
  const folder = await requireFolder(session, name, 'NONEXISTENT', 'missing');
  session.untagged(atom('MYRIGHTS'), folderOut(session, name), atom(folder.principal_id === session.principal!.id ? ownerRights : fullRights));
  return 'MYRIGHTS completed';
}

export async function getAclCommand({ session, args }: CommandInput) {
  const name = folderArg(session, args);
  args.end();
  const folder = await requireFolder(session, name, 'NONEXISTENT', 'missing');
  if (folder.principal_id !== session.principal!.id) throw new ImapNo('Only the owner may see who has access (right "a")', 'NOPERM');
  const grants = (await granteesOf(session.context.mail.db, folder.principal_id)).flatMap((address) => [address, atom(fullRights)]);
  session.untagged(atom('ACL'), folderOut(session, name), session.principal!.address, atom(ownerRights), ...grants);
  return 'GETACL completed';
}

export async function listRightsCommand({ session, args }: CommandInput) {
  const name = folderArg(session, args);
  const identifier = args.astring('identifier');
  args.end();
  await requireFolder(session, name, 'NONEXISTENT', 'missing');
  // Access is granted as a whole: nothing is always granted, and every right comes together.
  session.untagged(atom('LISTRIGHTS'), folderOut(session, name), identifier, '', atom(fullRights));
  return 'LISTRIGHTS completed';
}

export async function setAclCommand({ session, args }: CommandInput): Promise<string> {
  await requireFolder(session, folderArg(session, args), 'NONEXISTENT', 'missing');
  throw new ImapNo('Access to a mailbox is granted by an administrator: holdfast shared grant <mailbox> <user> --full-access', 'NOPERM');
}
