// Every command the server understands: the state it needs, how the selected folder is brought up
// to date after it, and the function that carries it out. The dispatcher checks the state once and
// hands the command what that state holds (the principal, the selected folder): a command of the
// selected state cannot be written to run without a folder.
import type { Principal } from '../../../directory/directory.ts';
import type { Args } from '../parser/args.ts';
import { ParseError } from '../parser/tokenizer.ts';
import type { SelectedFolder } from '../selected-folder.ts';
import type { ImapSession, SessionState } from '../session.ts';
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
import {
  capabilityCommand,
  compressCommand,
  enableCommand,
  idCommand,
  logoutCommand,
  noopCommand,
  startTlsCommand,
} from './session-commands.ts';
import { statusCommand } from './status.ts';
import { storeCommand } from './store.ts';

export interface CommandInput {
  session: ImapSession;
  tag: string;
  args: Args;
  /** Given as UID FETCH, UID STORE...: numbers are UIDs. */
  uid: boolean;
}

/** A command of the authenticated state (allowed in the selected state too): who is logged in. */
export interface AuthenticatedCommand extends CommandInput {
  principal: Principal;
}

/** A command of the selected state: also the folder selected when it started. */
export interface SelectedCommand extends AuthenticatedCommand {
  selected: SelectedFolder;
}

/** Carries the command out; returns the tagged OK text (undefined: the command wrote its own ending). */
type Run<Input> = (input: Input) => Promise<string | undefined>;

export type Command = {
  /** After the command: report new mail, flag changes and expunges ("full"), all but expunges, or nothing. */
  sync: 'full' | 'no-expunge' | 'none';
} & (
  | { needs: 'any' | 'not-authenticated'; run: Run<CommandInput> }
  | { needs: 'authenticated'; run: Run<AuthenticatedCommand> }
  | { needs: 'selected'; run: Run<SelectedCommand> }
);

const stateText: Record<SessionState['name'], string> = {
  'not-authenticated': 'before logging in',
  authenticated: 'without a selected folder',
  selected: 'with a folder selected',
};

/** Runs `command` with what the session's state holds, or refuses it (BAD) in a state it is not allowed in. */
export function dispatch(command: Command, name: string, input: CommandInput): Promise<string | undefined> {
  const { state } = input.session;
  switch (command.needs) {
    case 'any':
      return command.run(input);
    case 'not-authenticated':
      if (state.name === 'not-authenticated') return command.run(input);
      break;
    case 'authenticated':
      if (state.name !== 'not-authenticated') return command.run({ ...input, principal: state.principal });
      break;
    case 'selected':
      if (state.name === 'selected')
        return command.run({ ...input, principal: state.principal, selected: state.selected });
      break;
  }
  throw new ParseError(`${name} is not allowed ${stateText[state.name]}`);
}

const anyState = (sync: Command['sync'], run: Run<CommandInput>): Command => ({ needs: 'any', sync, run });
const notAuthenticated = (sync: Command['sync'], run: Run<CommandInput>): Command => ({
  needs: 'not-authenticated',
  sync,
  run,
});
const authenticated = (sync: Command['sync'], run: Run<AuthenticatedCommand>): Command => ({
  needs: 'authenticated',
  sync,
  run,
});
const selected = (sync: Command['sync'], run: Run<SelectedCommand>): Command => ({ needs: 'selected', sync, run });

export const commandTable: Record<string, Command> = {
  CAPABILITY: anyState('full', capabilityCommand),
  NOOP: anyState('full', noopCommand),
  CHECK: selected('full', noopCommand),
  LOGOUT: anyState('none', logoutCommand),
  ID: anyState('full', idCommand),
  ENABLE: authenticated('none', enableCommand),
  STARTTLS: notAuthenticated('none', startTlsCommand),
  LOGIN: notAuthenticated('none', loginCommand),
  AUTHENTICATE: notAuthenticated('none', authenticateCommand),
  COMPRESS: authenticated('none', compressCommand),
  SELECT: authenticated('none', selectCommand),
  EXAMINE: authenticated('none', examineCommand),
  CREATE: authenticated('full', createCommand),
  DELETE: authenticated('full', deleteCommand),
  RENAME: authenticated('full', renameCommand),
  SUBSCRIBE: authenticated('full', subscribeCommand(true)),
  UNSUBSCRIBE: authenticated('full', subscribeCommand(false)),
  LIST: authenticated('full', listCommand),
  LSUB: authenticated('full', lsubCommand),
  NAMESPACE: authenticated('full', namespaceCommand),
  STATUS: authenticated('full', statusCommand),
  APPEND: authenticated('full', appendCommand),
  GETQUOTA: authenticated('full', getQuotaCommand),
  GETQUOTAROOT: authenticated('full', getQuotaRootCommand),
  SETQUOTA: authenticated('full', setQuotaCommand),
  IDLE: authenticated('full', idleCommand),
  CLOSE: selected('none', closeCommand),
  UNSELECT: selected('none', unselectCommand),
  EXPUNGE: selected('full', expungeCommand),
  'UID EXPUNGE': selected('full', expungeCommand),
  FETCH: selected('no-expunge', fetchCommand),
  'UID FETCH': selected('full', fetchCommand),
  STORE: selected('no-expunge', storeCommand),
  'UID STORE': selected('full', storeCommand),
  SEARCH: selected('no-expunge', searchCommand),
  'UID SEARCH': selected('full', searchCommand),
  SORT: selected('no-expunge', sortCommand),
  'UID SORT': selected('full', sortCommand),
  THREAD: selected('no-expunge', threadCommand),
  'UID THREAD': selected('full', threadCommand),
  MYRIGHTS: authenticated('full', myRightsCommand),
  GETACL: authenticated('full', getAclCommand),
  LISTRIGHTS: authenticated('full', listRightsCommand),
  SETACL: authenticated('full', setAclCommand),
  DELETEACL: authenticated('full', setAclCommand),
  COPY: selected('full', copyCommand(false)),
  'UID COPY': selected('full', copyCommand(false)),
  MOVE: selected('full', copyCommand(true)),
  'UID MOVE': selected('full', copyCommand(true)),
};
