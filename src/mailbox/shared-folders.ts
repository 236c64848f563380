// Other principals' mailboxes a user may open: shared mailboxes (and any mailbox) they were given
// full access to (`holdfast shared grant … --full-access`). They appear under the shared namespace
// as "Shared/<address>/<folder>" (RFC 2342 NAMESPACE, RFC 4314 ACL), only within the tenant.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import {
  ensureDefaultFolders,
  findFolder,
  folderDelimiter,
  listFolders,
  normalizeFolderName,
  type Folder,
} from './folders.ts';

export const sharedPrefix = `Shared${folderDelimiter}`;

/** RFC 4314 rights: what full access allows (everything the owner may do, short of administering it). */
export const fullRights = 'lrswipkxtecd';
export const ownerRights = 'lrswipkxtecda';

export interface SharedMailbox {
  principalId: number;
  tenantId: number;
  address: string;
}

export async function sharedMailboxesOf(
  db: Kysely<Database>,
  viewer: { id: number; tenantId: number },
): Promise<SharedMailbox[]> {
  const rows = await db
    .selectFrom('mailbox_grants')
    .innerJoin('principals', 'principals.id', 'mailbox_grants.target_id')
    .select(['principals.id', 'principals.tenant_id', 'principals.address'])
    .where('mailbox_grants.grantee_id', '=', viewer.id)
    .where('mailbox_grants.full_access', '=', 1)
    .where('principals.tenant_id', '=', viewer.tenantId)
    .orderBy('principals.address')
    .execute();
  return rows.map((r) => ({ principalId: r.id, tenantId: r.tenant_id, address: r.address }));
}

/** Every folder of the mailboxes shared with the viewer, named as the viewer sees them. */
export async function sharedFolders(
  db: Kysely<Database>,
  viewer: { id: number; tenantId: number },
  now: number,
): Promise<(Folder & { visibleName: string })[]> {
  const out: (Folder & { visibleName: string })[] = [];
  for (const mailbox of await sharedMailboxesOf(db, viewer)) {
    let folders = await listFolders(db, mailbox.principalId);
    // A shared mailbox nobody has used yet gets its folders now (once: not again after the owner deletes one).
    if (!folders.some((f) => f.name === 'INBOX')) {
      await ensureDefaultFolders(db, { id: mailbox.principalId, tenantId: mailbox.tenantId }, now);
      folders = await listFolders(db, mailbox.principalId);
    }
    for (const folder of folders)
      out.push({ ...folder, visibleName: `${sharedPrefix}${mailbox.address}${folderDelimiter}${folder.name}` });
  }
  return out;
}

/**
 * A name under "Shared/" read as resolveFolder reads it: the shared mailbox's address in lower case
 * and the folder's name normalized (INBOX in capitals). Undefined for a name of the viewer's own.
 */
function sharedName(name: string): { address: string; folder: string } | undefined | 'incomplete' {
  if (!name.startsWith(sharedPrefix)) return undefined;
  const rest = name.slice(sharedPrefix.length);
  const split = rest.indexOf(folderDelimiter);
  if (split < 0) return 'incomplete';
  return { address: rest.slice(0, split).toLowerCase(), folder: normalizeFolderName(rest.slice(split + 1)) };
}

/** The name a folder is listed under (LIST, sharedFolders' visibleName) for a name a client gave. */
export function listedFolderName(name: string): string {
  const shared = sharedName(name);
  if (shared === undefined) return normalizeFolderName(name);
  if (shared === 'incomplete') return name;
  return `${sharedPrefix}${shared.address}${folderDelimiter}${shared.folder}`;
}

/**
 * The folder a name means to this viewer: one of their own, or "Shared/<address>/<folder>" of a
 * mailbox shared with them. Undefined when there is none (or no right to it: the same to the viewer).
 */
export async function resolveFolder(
  db: Kysely<Database>,
  viewer: { id: number; tenantId: number },
  name: string,
): Promise<Folder | undefined> {
  const shared = sharedName(name);
  if (shared === undefined) return findFolder(db, viewer.id, normalizeFolderName(name));
  if (shared === 'incomplete') return undefined;
  const mailbox = (await sharedMailboxesOf(db, viewer)).find((m) => m.address === shared.address);
  if (!mailbox) return undefined;
  return findFolder(db, mailbox.principalId, shared.folder);
}

/** Who may open a principal's mailbox besides its owner (for GETACL). */
export async function granteesOf(db: Kysely<Database>, principalId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('mailbox_grants')
    .innerJoin('principals', 'principals.id', 'mailbox_grants.grantee_id')
    .select('principals.address')
    .where('mailbox_grants.target_id', '=', principalId)
    .where('mailbox_grants.full_access', '=', 1)
    .orderBy('principals.address')
    .execute();
  return rows.map((r) => r.address);
}
