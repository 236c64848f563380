// Every command the server understands: the states it is allowed in, how the selected folder is
// brought up to date after it, and the function that carries it out.
import type { Args } from '../parser/args.ts';
import type { ImapSession } from '../session.ts';
import { getAclCommand, listRightsCommand, myRightsCommand, setAclCommand } from './acl.ts';
import { appendCommand } from './append.ts';
import { authenticateCommand, loginCommand } from './login.ts';
import { copyCommand } from './copy-move.ts';
import { fetchCommand } from './fetch.ts';
import { createCommand, deleteCommand, renameCommand, subscribeCommand } from './folder-management.ts';
import { idleCommand } from './idle.ts';
import { listCommand, lsubCommand, namespaceCommand } from './list.ts';
import { sortCommand, threadCommand } from './sort-thread.ts';
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from './quota.ts';
import { searchCommand } from './search.ts';
import { closeCommand, examineCommand, expungeCommand, selectCommand, unselectCommand } from './select.ts';
import { capabilityCommand, compressCommand, enableCommand, idCommand, logoutCommand, noopCommand, startTlsCommand } from './session-commands.ts';
import { statusCommand } from './status.ts';
import { storeCommand } from './store.ts';

export type CommandState = 'not-authenticated' | 'authenticated' | 'selected';

export interface CommandInput {
  session: ImapSession;
  tag: string;
  args: Args;
  /** Given as UID FETCH, UID STORE...: numbers are UIDs. */
  uid: boolean;
}

export interface Command {
  states: CommandState[];
  /** After the command: report new mail, flag changes and expunges ("full"), all but expunges, or nothing. */
  sync: 'full' | 'no-expunge' | 'none';
  /** Carries the command out; returns the tagged OK text (undefined: the command wrote its own ending). */
  run(input: CommandInput): Promise<string | undefined>;
}

const any: CommandState[] = ['not-authenticated', 'authenticated', 'selected'];
const before: CommandState[] = ['not-authenticated'];
const after: CommandState[] = ['authenticated', 'selected'];
const selected: CommandState[] = ['selected'];

const command = (states: CommandState[], sync: Command['sync'], run: Command['run']): Command => ({ states, sync, run });

export const commandTable: Record<string, Command> = {
  CAPABILITY: command(any, 'full', capabilityCommand),
  NOOP: command(any, 'full', noopCommand),
  CHECK: command(selected, 'full', noopCommand),
  LOGOUT: command(any, 'none', logoutCommand),
  ID: command(any, 'full', idCommand),
  ENABLE: command(after, 'none', enableCommand),
  STARTTLS: command(before, 'none', startTlsCommand),
  LOGIN: command(before, 'none', loginCommand),
  AUTHENTICATE: command(before, 'none', authenticateCommand),
  COMPRESS: command(after, 'none', compressCommand),
  SELECT: command(after, 'none', selectCommand),
  EXAMINE: command(after, 'none', examineCommand),
  CREATE: command(after, 'full', createCommand),
  DELETE: command(after, 'full', deleteCommand),
  RENAME: command(after, 'full', renameCommand),
  SUBSCRIBE: command(after, 'full', subscribeCommand(true)),
  UNSUBSCRIBE: command(after, 'full', subscribeCommand(false)),
  LIST: command(after, 'full', listCommand),
  LSUB: command(after, 'full', lsubCommand),
  NAMESPACE: command(after, 'full', namespaceCommand),
  STATUS: command(after, 'full', statusCommand),
  APPEND: command(after, 'full', appendCommand),
  GETQUOTA: command(after, 'full', getQuotaCommand),
  GETQUOTAROOT: command(after, 'full', getQuotaRootCommand),
  SETQUOTA: command(after, 'full', setQuotaCommand),
  IDLE: command(after, 'full', idleCommand),
  CLOSE: command(selected, 'none', closeCommand),
  UNSELECT: command(selected, 'none', unselectCommand),
  EXPUNGE: command(selected, 'full', expungeCommand),
  'UID EXPUNGE': command(selected, 'full', expungeCommand),
  FETCH: command(selected, 'no-expunge', fetchCommand),
  'UID FETCH': command(selected, 'full', fetchCommand),
  STORE: command(selected, 'no-expunge', storeCommand),
  'UID STORE': command(selected, 'full', storeCommand),
  SEARCH: command(selected, 'no-expunge', searchCommand),
  'UID SEARCH': command(selected, 'full', searchCommand),
  SORT: command(selected, 'no-expunge', sortCommand),
  'UID SORT': command(selected, 'full', sortCommand),
  THREAD: command(selected, 'no-expunge', threadCommand),
  'UID THREAD': command(selected, 'full', threadCommand),
  MYRIGHTS: command(after, 'full', myRightsCommand),
  GETACL: command(after, 'full', getAclCommand),
  LISTRIGHTS: command(after, 'full', listRightsCommand),
  SETACL: command(after, 'full', setAclCommand),
  DELETEACL: command(after, 'full', setAclCommand),
  COPY: command(selected, 'full', copyCommand(false)),
  'UID COPY': command(selected, 'full', copyCommand(false)),
  MOVE: command(selected, 'full', copyCommand(true)),
  'UID MOVE': command(selected, 'full', copyCommand(true)),
};
