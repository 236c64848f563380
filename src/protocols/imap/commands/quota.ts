// QUOTA (RFC 9208): one storage quota per mailbox, set by the administrator (`holdfast user set
// --quota`), reported in KiB under the root "".
import { usedBytes } from '../../../mailbox/folders.ts';
import { ImapNo } from '../imap-error.ts';
import { atom } from '../response/encode.ts';
import type { AuthenticatedCommand, CommandInput } from './index.ts';
import { folderArg, folderOut } from './values.ts';

async function sendQuota({ session, principal }: AuthenticatedCommand) {
  if (principal.quotaBytes === null) return false;
  const used = await usedBytes(session.context.mail.db, principal.id);
  session.untagged(atom('QUOTA'), '', [
    atom('STORAGE'),
    Math.ceil(used / 1024),
    Math.floor(principal.quotaBytes / 1024),
  ]);
  return true;
}

export async function getQuotaRootCommand(command: AuthenticatedCommand) {
  const { session, args, principal } = command;
  const name = folderArg(session, args);
  args.end();
  if (principal.quotaBytes === null) session.untagged(atom('QUOTAROOT'), folderOut(session, name));
  else {
    session.untagged(atom('QUOTAROOT'), folderOut(session, name), '');
    await sendQuota(command);
  }
  return 'GETQUOTAROOT completed';
}

export async function getQuotaCommand(command: AuthenticatedCommand) {
  const root = command.args.astring('quota root');
  command.args.end();
  if (root !== '' || !(await sendQuota(command))) throw new ImapNo(`No quota root "${root}"`, 'NONEXISTENT');
  return 'GETQUOTA completed';
}

export async function setQuotaCommand({ args }: CommandInput): Promise<string> {
  args.astring('quota root');
  args.list('resource limits');
  args.end();
  throw new ImapNo('Quotas are set by the administrator (holdfast user set <address> --quota)', 'NOPERM');
}
