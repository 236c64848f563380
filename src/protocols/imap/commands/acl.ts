// ACL (RFC 4314), read side: who may use a folder and with which rights. Access to another mailbox
// is granted by an administrator (`holdfast shared grant <mailbox> <user> --full-access`), so SETACL
// and DELETEACL answer NO with where to do it.
import { fullRights, granteesOf, ownerRights } from '../../../mailbox/shared-folders.ts';
import { ImapNo } from '../imap-error.ts';
import { atom } from '../response/encode.ts';
import type { AuthenticatedCommand } from './index.ts';
import { folderArg, folderOut, requireFolder } from './values.ts';

export async function myRightsCommand(command: AuthenticatedCommand) {
  const { session, args, principal } = command;
  const name = folderArg(session, args);
  args.end();
  const folder = await requireFolder(command, name, 'NONEXISTENT', 'missing');
  session.untagged(
    atom('MYRIGHTS'),
    folderOut(session, name),
    atom(folder.principal_id === principal.id ? ownerRights : fullRights),
  );
  return 'MYRIGHTS completed';
}

export async function getAclCommand(command: AuthenticatedCommand) {
  const { session, args, principal } = command;
  const name = folderArg(session, args);
  args.end();
  const folder = await requireFolder(command, name, 'NONEXISTENT', 'missing');
  if (folder.principal_id !== principal.id)
    throw new ImapNo('Only the owner may see who has access (right "a")', 'NOPERM');
  const grants = (await granteesOf(session.context.mail.db, folder.principal_id)).flatMap((address) => [
    address,
    atom(fullRights),
  ]);
  session.untagged(atom('ACL'), folderOut(session, name), principal.address, atom(ownerRights), ...grants);
  return 'GETACL completed';
}

export async function listRightsCommand(command: AuthenticatedCommand) {
  const { session, args } = command;
  const name = folderArg(session, args);
  const identifier = args.astring('identifier');
  args.end();
  await requireFolder(command, name, 'NONEXISTENT', 'missing');
  // Access is granted as a whole: nothing is always granted, and every right comes together.
  session.untagged(atom('LISTRIGHTS'), folderOut(session, name), identifier, '', atom(fullRights));
  return 'LISTRIGHTS completed';
}

export async function setAclCommand(command: AuthenticatedCommand): Promise<string> {
  await requireFolder(command, folderArg(command.session, command.args), 'NONEXISTENT', 'missing');
  throw new ImapNo(
    'Access to a mailbox is granted by an administrator: holdfast shared grant <mailbox> <user> --full-access',
    'NOPERM',
  );
}
