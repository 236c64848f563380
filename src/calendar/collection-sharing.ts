// Sharing a principal's collections (calendars, address books) with other principals of its tenant:
// the owner has every right; a grant gives another principal read, or read and write; full access
// to a shared mailbox (mailbox_grants) includes its collections, writable, as in Exchange. A
// principal of another tenant never learns a collection exists. The tables are named by a
// `SharedCollections`, so calendar-access.ts and contacts/address-book-access.ts share one logic.
import type { Kysely } from 'kysely';
import { forbidden, invalid } from '../errors.ts';
import type { CalendarAccess, Database } from '../store/schema.ts';

export type CollectionAccess = CalendarAccess;
export type CollectionRight = 'owner' | CollectionAccess;

export interface Viewer {
  id: number;
  tenantId: number;
}

export interface SharedCollections {
  /** The collections' table: `id`, `tenant_id`, `principal_id` (the owner). */
  collections: string;
  /** The grants' table: the collection column, `grantee_id`, `tenant_id`, `access`, `created_at`. */
  grants: string;
  collectionColumn: string;
  /** What one is called in messages: "calendar", "address book". */
  noun: string;
}

/** A collection row as sharing reads it. */
export interface OwnedCollection {
  id: number;
  tenant_id: number;
  principal_id: number | null;
}

// biome-ignore lint/suspicious/noExplicitAny: the tables are named by a SharedCollections
const untyped = (db: Kysely<Database>) => db as Kysely<any>;

export async function collectionRight(
  db: Kysely<Database>,
  tables: SharedCollections,
  viewer: Viewer,
  collection: OwnedCollection,
): Promise<CollectionRight | undefined> {
  if (collection.tenant_id !== viewer.tenantId || collection.principal_id === null) return undefined;
  if (collection.principal_id === viewer.id) return 'owner';
  const mailbox = await db
    .selectFrom('mailbox_grants')
    .select('full_access')
    .where('target_id', '=', collection.principal_id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  if (mailbox?.full_access) return 'write';
  const grant: { access: CollectionAccess } | undefined = await untyped(db)
    .selectFrom(tables.grants)
    .select('access')
    .where(tables.collectionColumn, '=', collection.id)
    .where('grantee_id', '=', viewer.id)
    .executeTakeFirst();
  return grant?.access;
}

export const mayWrite = (right: CollectionRight | undefined) => right === 'owner' || right === 'write';

export interface SharedCollection<Row> {
  collection: Row;
  owner: string;
  ownerName: string | null;
  access: CollectionAccess;
}

/** Collections other principals have shared with this one (by grant or full mailbox access). */
export async function sharedCollections<Row extends { id: number }>(
  db: Kysely<Database>,
  tables: SharedCollections,
  viewer: Viewer,
): Promise<SharedCollection<Row>[]> {
  const { collections, grants, collectionColumn } = tables;
  const owner = ['principals.address as owner', 'principals.display_name as owner_name'] as const;
  type Found = Row & { owner: string; owner_name: string | null; access: CollectionAccess };
  const byGrant = (await untyped(db)
    .selectFrom(grants)
    .innerJoin(collections, `${collections}.id`, `${grants}.${collectionColumn}`)
    .innerJoin('principals', 'principals.id', `${collections}.principal_id`)
    .selectAll(collections)
    .select([...owner, `${grants}.access`])
    .where(`${grants}.grantee_id`, '=', viewer.id)
    .where(`${collections}.tenant_id`, '=', viewer.tenantId)
    .execute()) as Found[];
  const byMailbox = (await untyped(db)
    .selectFrom('mailbox_grants')
    .innerJoin(collections, `${collections}.principal_id`, 'mailbox_grants.target_id')
    .innerJoin('principals', 'principals.id', `${collections}.principal_id`)
    .selectAll(collections)
    .select([...owner])
    .where('mailbox_grants.grantee_id', '=', viewer.id)
    .where('mailbox_grants.full_access', '=', 1)
    .where(`${collections}.tenant_id`, '=', viewer.tenantId)
    .execute()) as Omit<Found, 'access'>[];
  const shared = new Map<number, SharedCollection<Row>>();
  for (const { owner, owner_name, access, ...collection } of byGrant)
    shared.set(collection.id, { collection: collection as unknown as Row, owner, ownerName: owner_name, access });
  for (const { owner, owner_name, ...collection } of byMailbox)
    shared.set(collection.id, {
      collection: collection as unknown as Row,
      owner,
      ownerName: owner_name,
      access: 'write',
    });
  return [...shared.values()].sort((a, b) => a.collection.id - b.collection.id);
}

/** The checks before a grant: a known access, the same tenant, not the owner. */
export function checkGrant(
  tables: SharedCollections,
  owner: Viewer & { address: string },
  grantee: Viewer & { address: string },
  access: string,
): CollectionAccess {
  if (access !== 'read' && access !== 'write')
    throw invalid('bad-access', `--access ${access} is not allowed: expected read or write`);
  if (owner.tenantId !== grantee.tenantId)
    throw forbidden(
      'cross-tenant',
      `${grantee.address} is in another tenant; ${tables.noun}s are shared within a tenant only`,
    );
  if (owner.id === grantee.id) throw invalid('self-grant', `${owner.address} already owns the ${tables.noun}`);
  return access;
}

/** Grants `grantee` the access on the collection (or changes the access granted before). */
export async function writeGrant(
  db: Kysely<Database>,
  tables: SharedCollections,
  collection: OwnedCollection,
  granteeId: number,
  access: CollectionAccess,
  now: number,
) {
  await untyped(db)
    .insertInto(tables.grants)
    .values({
      [tables.collectionColumn]: collection.id,
      grantee_id: granteeId,
      tenant_id: collection.tenant_id,
      access,
      created_at: now,
    })
    .onConflict((oc) => oc.columns([tables.collectionColumn, 'grantee_id']).doUpdateSet({ access }))
    .execute();
}

/** Removes one grant; false when there was none (the access may come with full mailbox access). */
export async function dropGrant(
  db: Kysely<Database>,
  tables: SharedCollections,
  collectionId: number,
  granteeId: number,
): Promise<boolean> {
  const removed = await untyped(db)
    .deleteFrom(tables.grants)
    .where(tables.collectionColumn, '=', collectionId)
    .where('grantee_id', '=', granteeId)
    .executeTakeFirst();
  return Number(removed.numDeletedRows) > 0;
}

/** Every grant on the owner's collections: the collection's name, the grantee and the access. */
export async function listGrants(
  db: Kysely<Database>,
  tables: SharedCollections,
  ownerId: number,
): Promise<{ collection: string; grantee: string; access: CollectionAccess }[]> {
  const { collections, grants, collectionColumn } = tables;
  return untyped(db)
    .selectFrom(grants)
    .innerJoin(collections, `${collections}.id`, `${grants}.${collectionColumn}`)
    .innerJoin('principals', 'principals.id', `${grants}.grantee_id`)
    .select([`${collections}.uri as collection`, 'principals.address as grantee', `${grants}.access`])
    .where(`${collections}.principal_id`, '=', ownerId)
    .orderBy(`${collections}.uri`)
    .orderBy('principals.address')
    .execute();
}
