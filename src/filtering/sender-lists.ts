// Allow and block lists of senders, per tenant and per user (Exchange's Tenant Allow/Block List and a
// user's Safe and Blocked Senders): an entry is an address or a whole domain. They are read before the
// spam verdict counts: a user's own entry first, then the tenant's. Malware is refused whatever the lists say.
import type { Kysely } from 'kysely';
import { invalid, notFound } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { filterDb } from './filter-tables.ts';

export type ListName = 'allow' | 'block';

export interface ListEntry {
  id: number;
  list: ListName;
  sender: string;
  /** Null: the tenant's entry. */
  principalId: number | null;
  createdAt: number;
}

/** A sender as lists hold it: an address or a domain, lower case. */
export function listedSender(text: string): string {
  const value = text.trim().toLowerCase().replace(/^@/, '');
  if (!/^([^\s@]+@)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(value))
    throw invalid('bad-sender', `"${text}" is neither an address (someone@example.net) nor a domain (example.net)`);
  return value;
}

export async function addListEntry(
  db: Kysely<Database>,
  entry: { tenantId: number; principalId: number | null; list: ListName; sender: string },
  now: number,
): Promise<void> {
  const sender = listedSender(entry.sender);
  const fdb = filterDb(db);
  await fdb.transaction().execute(async (trx) => {
    // One entry per sender and owner: adding it to the other list moves it.
    await trx
      .deleteFrom('sender_lists')
      .where('tenant_id', '=', entry.tenantId)
      .where('sender', '=', sender)
      .where((eb) =>
        entry.principalId === null ? eb('principal_id', 'is', null) : eb('principal_id', '=', entry.principalId),
      )
      .execute();
    await trx
      .insertInto('sender_lists')
      .values({ tenant_id: entry.tenantId, principal_id: entry.principalId, list: entry.list, sender, created_at: now })
      .execute();
  });
}

export async function removeListEntry(
  db: Kysely<Database>,
  entry: { tenantId: number; principalId: number | null; sender: string },
): Promise<void> {
  const sender = listedSender(entry.sender);
  const result = await filterDb(db)
    .deleteFrom('sender_lists')
    .where('tenant_id', '=', entry.tenantId)
    .where('sender', '=', sender)
    .where((eb) =>
      entry.principalId === null ? eb('principal_id', 'is', null) : eb('principal_id', '=', entry.principalId),
    )
    .executeTakeFirst();
  if (!result.numDeletedRows) throw notFound('list-entry-not-found', `${sender} is not on that list`);
}

export async function listEntries(
  db: Kysely<Database>,
  tenantId: number,
  principalId: number | null | undefined,
): Promise<ListEntry[]> {
  let query = filterDb(db)
    .selectFrom('sender_lists')
    .select(['id', 'list', 'sender', 'principal_id', 'created_at'])
    .where('tenant_id', '=', tenantId);
  if (principalId === null) query = query.where('principal_id', 'is', null);
  else if (principalId !== undefined) query = query.where('principal_id', '=', principalId);
  const rows = await query.orderBy('sender').execute();
  return rows.map((r) => ({
    id: r.id,
    list: r.list,
    sender: r.sender,
    principalId: r.principal_id,
    createdAt: r.created_at,
  }));
}

/** What the lists say about `sender` for one mailbox: the user's entry, else the tenant's. */
export async function listVerdict(
  db: Kysely<Database>,
  tenantId: number,
  principalId: number,
  sender: string,
): Promise<{ list: ListName; owner: 'user' | 'tenant'; entry: string } | undefined> {
  const address = sender.toLowerCase();
  const domain = address.split('@')[1];
  if (!address || !domain) return undefined;
  const rows = await filterDb(db)
    .selectFrom('sender_lists')
    .select(['list', 'sender', 'principal_id'])
    .where('tenant_id', '=', tenantId)
    .where('sender', 'in', [address, domain])
    .where((eb) => eb.or([eb('principal_id', 'is', null), eb('principal_id', '=', principalId)]))
    .execute();
  // The user's own entry first, then the tenant's; within each, the address before its domain.
  const rank = (r: (typeof rows)[number]) => (r.principal_id === null ? 2 : 0) + (r.sender === address ? 0 : 1);
  const best = rows.sort((a, b) => rank(a) - rank(b))[0];
  return best && { list: best.list, owner: best.principal_id === null ? 'tenant' : 'user', entry: best.sender };
}
