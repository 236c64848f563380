// The principal's own folders as JMAP reads them: listed once per method call, looked up by id
// (a folder of another principal is never found), and their state.
import type { Kysely } from 'kysely';
import { listFolders, type Folder } from '../../mailbox/folders.ts';
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
export async function accountFolders(db: Kysely<Database>, principalId: number) {
  const folders = await listFolders(db, principalId);
  return { folders, state: encodeState(folders.map(folderStateOf)) };
}
