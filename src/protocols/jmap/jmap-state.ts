// JMAP state strings from the folders' own counters, the ones IMAP's CONDSTORE/QRESYNC read: a
// state lists, per folder, its id, UIDVALIDITY, HIGHESTMODSEQ, UIDNEXT and a short hash of its name,
// role and subscription. Any change through either protocol raises a folder's HIGHESTMODSEQ (or, for
// a rename, its UIDVALIDITY), so a state string changes exactly when something a client sees did,
// and /changes can work out what from the message rows and the expunge log by MODSEQ (as QRESYNC
// does) — no second change log. Mailbox and Email share the one account state.
import { createHash } from 'node:crypto';
import type { Folder } from '../../mailbox/folders.ts';

export interface FolderState {
  id: number;
  uidvalidity: number;
  modseq: number;
  /** UIDs from here on were appended after this state: /changes reports them as created. */
  uidnext: number;
  /** Name, role and subscription, hashed: a difference makes the Mailbox updated beyond its counts. */
  look: string;
}

// h2: Email ids are messages.email_id (migration 22); an h1 state named Emails by folder and UID.
const version = 'h2';

export function folderLook(folder: Pick<Folder, 'name' | 'special_use' | 'subscribed'>): string {
  return createHash('sha256')
    .update(`${folder.name}\0${folder.special_use ?? ''}\0${folder.subscribed}`)
    .digest('base64url')
    .slice(0, 6);
}

export function folderStateOf(folder: Folder): FolderState {
  return {
    id: folder.id,
    uidvalidity: Number(folder.uidvalidity),
    modseq: Number(folder.highest_modseq),
    uidnext: Number(folder.uidnext),
    look: folderLook(folder),
  };
}

export function encodeState(folders: FolderState[]): string {
  const parts = [...folders]
    .sort((a, b) => a.id - b.id)
    .map((f) => `${[f.id, f.uidvalidity, f.modseq, f.uidnext].map((n) => n.toString(36)).join('.')}.${f.look}`);
  return `${version}:${parts.join(',')}`;
}

/** The folders of a state string, by id; undefined for a string this server did not make. */
export function decodeState(state: unknown): Map<number, FolderState> | undefined {
  if (typeof state !== 'string' || !state.startsWith(`${version}:`) || state.length > 200_000) return undefined;
  const out = new Map<number, FolderState>();
  const body = state.slice(version.length + 1);
  if (body === '') return out;
  for (const part of body.split(',')) {
    const match = /^([0-9a-z]{1,11})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{6})$/.exec(
      part,
    );
    if (!match) return undefined;
    const [id, uidvalidity, modseq, uidnext] = match.slice(1, 5).map((n) => Number.parseInt(n, 36)) as [
      number,
      number,
      number,
      number,
    ];
    out.set(id, { id, uidvalidity, modseq, uidnext, look: match[5]! });
  }
  return out;
}
