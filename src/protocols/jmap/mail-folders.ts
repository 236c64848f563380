// The principal's own folders as JMAP reads them: listed once per method call (made first if the
// mailbox was never used, as IMAP's sign-in makes them), looked up by id (a folder of another
// principal is never found), and the state string they make.
import type { Kysely } from 'kysely';
import type { Principal } from '../../directory/directory.ts';
import { ensureDefaultFolders, listFolders, type Folder } from '../../mailbox/folders.ts';
import type { Database } from '../../store/schema.ts';
import { encodeState, folderStateOf } from './jmap-state.ts';

export async function ownFolder(
  db: Kysely<Database>,
  principalId: number,
  folderId: number,
): Promise<Folder | undefined> {
  return (await listFolders(db, principalId)).find((f) => f.id === folderId);
}

/** The account's folders and the state string they make now. */
export async function accountFolders(db: Kysely<Database>, principal: Principal, now: number) {
  let folders = await listFolders(db, principal.id);
  if (folders.length === 0) {
    await ensureDefaultFolders(db, principal, now);
    folders = await listFolders(db, principal.id);
  }
  return { folders, state: encodeState(folders.map(folderStateOf)) };
}
