// Small pieces of response syntax shared by several commands.
import { findFolder, normalizeFolderName, type Folder } from '../../../mailbox/folders.ts';
import { asImapNo, ImapNo } from '../imap-error.ts';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../mailbox-name.ts';
import type { Args } from '../parser/args.ts';
import { atom, type Value } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';

export const flagList = (flags: string[]): Value => flags.map(atom);

/** UIDs as a compact set: 1:3,7,9:10. */
export function uidSetText(uids: number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i];
    while (i + 1 < sorted.length && sorted[i + 1] === sorted[i] + 1) i++;
    parts.push(start === sorted[i] ? String(start) : `${start}:${sorted[i]}`);
  }
  return parts.join(',');
}

/** A folder name argument, decoded from modified UTF-7 unless the client speaks UTF-8. */
export function folderArg(session: ImapSession, args: Args): string {
  const raw = args.astring('folder name');
  return session.utf8 ? raw : decodeModifiedUtf7(raw);
}

/** A folder name for a response. */
export function folderOut(session: ImapSession, name: string): Value {
  return session.utf8 ? name : encodeModifiedUtf7(name);
}

/**
 * The user's folder called `name`, or NO with `missingCode` (NONEXISTENT, or TRYCREATE where the
 * client should create it first). A name that cannot exist is refused with its reason when
 * `badName` is "refuse", and counts as missing otherwise.
 */
export async function requireFolder(session: ImapSession, name: string, missingCode: 'NONEXISTENT' | 'TRYCREATE', badName: 'missing' | 'refuse'): Promise<Folder> {
  let normalized: string | undefined;
  try {
    normalized = normalizeFolderName(name);
  } catch (error) {
    if (badName === 'refuse') asImapNo(error);
  }
  const folder = normalized === undefined ? undefined : await findFolder(session.context.mail.db, session.principal!.id, normalized);
  if (!folder) throw new ImapNo(`Folder "${name}" does not exist`, missingCode);
  return folder;
}
