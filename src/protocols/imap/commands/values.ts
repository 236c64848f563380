// Small pieces of response syntax shared by several commands.
import { quotaBytesOf } from '../../../directory/principal.ts';
import { normalizeFolderName, type Folder } from '../../../mailbox/folders.ts';
import { resolveFolder, sharedPrefix } from '../../../mailbox/shared-folders.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { decodeModifiedUtf7, encodeModifiedUtf7, isModifiedUtf7 } from '../mailbox-name.ts';
import type { Args } from '../parser/args.ts';
import { ParseError, type Token } from '../parser/tokenizer.ts';
import { atom, type Value } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';
import type { AuthenticatedCommand } from './index.ts';

export const flagList = (flags: string[]): Value => flags.map(atom);

/** The flags a client may set: the system flags of RFC 9051 section 2.3.2 (\Recent is the server's). */
export const systemFlags = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const settable = new Set(systemFlags.map((f) => f.toLowerCase()));

/**
 * A flag of STORE or APPEND: a keyword (an atom) or one of the system flags. Another name beginning
 * with "\" (\Recent, \Unknown, \*) is BAD, as in Dovecot: flags with a backslash are the protocol's
 * own, and PERMANENTFLAGS' \* lets a client create keywords only (RFC 9051 sections 2.3.2, 7.1).
 */
export function flagArg(token: Token): string {
  if (token.kind !== 'atom' || !/^\\?[^\s()\\"{]+$/.test(token.value)) throw new ParseError('Invalid flag');
  if (token.value.startsWith('\\') && !settable.has(token.value.toLowerCase()))
    throw new ParseError(`Invalid system flag ${token.value}`);
  return token.value;
}

/** UIDs as a compact set: 1:3,7,9:10. */
export function uidSetText(uids: number[]): string {
  const ranges: [number, number][] = [];
  for (const uid of [...uids].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && uid === last[1] + 1) last[1] = uid;
    else ranges.push([uid, uid]);
  }
  return ranges.map(([start, end]) => (start === end ? String(start) : `${start}:${end}`)).join(',');
}

/** A folder name argument, decoded from modified UTF-7 unless the client speaks UTF-8. */
export function folderArg(session: ImapSession, args: Args): string {
  return decodeFolderName(session, args.astring('folder name'));
}

/** A folder name as the client wrote it, decoded (NO [CANNOT] when it is not valid modified UTF-7). */
export function decodeFolderName(session: ImapSession, raw: string): string {
  if (session.utf8) return raw;
  if (!isModifiedUtf7(raw)) throw new ImapNo('Mailbox name is not valid modified UTF-7', 'CANNOT');
  return decodeModifiedUtf7(raw);
}

/** A folder name for a response. */
export function folderOut(session: ImapSession, name: string): Value {
  return session.utf8 ? name : encodeModifiedUtf7(name);
}

/**
 * The folder called `name` (the user's own, or "Shared/<address>/…" of a mailbox shared with them),
 * or NO with `missingCode` (NONEXISTENT, or TRYCREATE where the client should create it first). A
 * name that cannot exist is refused with its reason when `badName` is "refuse", and counts as
 * missing otherwise.
 */
export async function requireFolder(
  { session, principal }: AuthenticatedCommand,
  name: string,
  missingCode: 'NONEXISTENT' | 'TRYCREATE',
  badName: 'missing' | 'refuse',
): Promise<Folder> {
  let normalized: string | undefined;
  try {
    normalized = normalizeFolderName(name);
  } catch (error) {
    if (badName === 'refuse') asImapNo(error);
  }
  const folder =
    normalized === undefined ? undefined : await resolveFolder(session.context.mail.db, principal, normalized);
  if (!folder)
    throw new ImapNo(
      `Folder "${name}" does not exist`,
      normalized?.startsWith(sharedPrefix) ? 'NONEXISTENT' : missingCode,
    );
  return folder;
}

/** Folders of shared mailboxes are created, renamed and deleted by their owner's administrator. */
export function refuseShared(name: string) {
  if (name.startsWith(sharedPrefix))
    throw new ImapNo(`"${name}" belongs to a shared mailbox; its folders are managed by its owner`, 'NOPERM');
}

/** The quota that applies when adding to a folder: its owner's (a shared mailbox has its own). */
export async function quotaOf({ session, principal }: AuthenticatedCommand, folder: Folder): Promise<number | null> {
  if (folder.principal_id === principal.id) return principal.quotaBytes;
  return quotaBytesOf(session.context.mail.db, folder.principal_id);
}
