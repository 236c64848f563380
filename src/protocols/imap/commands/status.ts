// STATUS (with STATUS=SIZE, CONDSTORE's HIGHESTMODSEQ, APPENDLIMIT and OBJECTID's MAILBOXID), also
// used by LIST-STATUS.
import { folderStatus, type Folder } from '../../../mailbox/folders.ts';
import { ParseError, type Token } from '../parser/tokenizer.ts';
import { atom, type Value } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';
import type { AuthenticatedCommand } from './index.ts';
import { folderArg, folderOut, requireFolder } from './values.ts';

const statusItems = [
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
  'RECENT',
  'APPENDLIMIT',
  'MAILBOXID',
];

export function parseStatusItems(tokens: Token[]): string[] {
  if (tokens.length === 0) throw new ParseError('STATUS needs at least one item');
  return tokens.map((t) => {
    const item = t.kind === 'atom' ? t.value.toUpperCase() : '';
    if (!statusItems.includes(item))
      throw new ParseError(`Unknown STATUS item ${t.kind === 'list' ? '(...)' : t.value}`);
    return item;
  });
}

export async function statusCommand(command: AuthenticatedCommand) {
  const { session, args } = command;
  const name = folderArg(session, args);
  const items = parseStatusItems(args.list('STATUS items'));
  args.end();
  const folder = await requireFolder(command, name, 'NONEXISTENT', 'missing');
  await sendStatus(session, folder, items);
  return 'STATUS completed';
}

export async function sendStatus(session: ImapSession, folder: Folder, items: string[]) {
  const status = await folderStatus(session.context.mail.db, folder);
  const values: Value[] = [];
  for (const item of items) {
    values.push(atom(item));
    switch (item) {
      case 'MESSAGES':
        values.push(status.messages);
        break;
      case 'UIDNEXT':
        values.push(status.uidnext);
        break;
      case 'UIDVALIDITY':
        values.push(status.uidvalidity);
        break;
      case 'UNSEEN':
        values.push(status.unseen);
        break;
      case 'DELETED':
        values.push(status.deleted);
        break;
      case 'SIZE':
        values.push(status.size);
        break;
      case 'HIGHESTMODSEQ':
        values.push(status.highestModseq);
        break;
      case 'RECENT':
        values.push(status.recent);
        break;
      case 'APPENDLIMIT':
        values.push(session.context.config.appendLimit);
        break;
      case 'MAILBOXID':
        values.push([atom(`F${folder.id}`)]);
        break;
    }
  }
  session.untagged(atom('STATUS'), folderOut(session, folder.name), values);
}
