// APPEND: a client saves a message (a draft, a sent copy, a migration) into a folder. The literal was
// already bounded by APPENDLIMIT before it was read.
import { appendContent } from '../../../mailbox/messages.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { parseDateTime } from '../response/encode.ts';
import type { AuthenticatedCommand } from './index.ts';
import { flagArg, folderArg, quotaOf, requireFolder } from './values.ts';

export async function appendCommand(command: AuthenticatedCommand) {
  const { session, args } = command;
  const name = folderArg(session, args);
  const flags = (args.optionalList() ?? []).map(flagArg);
  let date: number | undefined;
  const next = args.peek();
  if (next?.kind === 'string' && !next.literal) {
    date = parseDateTime(args.astring('date-time'));
    if (date === undefined) throw new ParseError('Invalid date-time (expected e.g. "23-Nov-2026 10:00:00 +0000")');
  }
  const content = args.next('message literal');
  if (content.kind !== 'string' || !content.literal) throw new ParseError('Expected the message as a literal');
  args.end();
  if (content.bytes.length === 0) throw new ImapNo('An empty message cannot be appended', 'CANNOT');
  if (!content.literal8 && content.bytes.includes(0))
    throw new ImapNo('The message contains NUL bytes; send it as a literal8 (~{n})', 'CANNOT');
  const folder = await requireFolder(command, name, 'TRYCREATE', 'refuse');
  try {
    const appended = await appendContent(session.context.mail, folder, content.bytes, {
      flags,
      internalDate: date,
      quotaBytes: await quotaOf(command, folder),
    });
    return `[APPENDUID ${folder.uidvalidity} ${appended.uid}] APPEND completed`;
  } catch (error) {
    asImapNo(error);
  }
}
