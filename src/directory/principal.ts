// A principal: a user, shared mailbox, room, equipment or group inside a tenant, as the rest of
// Holdfast sees it (the row of the principals table without its password hash), and the lookups
// of one by id or address that the protocols need besides the Directory's routing and sign-in.
import type { Kysely } from 'kysely';
import type { Database, PrincipalKind, Role } from '../store/schema.ts';

export interface Principal {
  id: number;
  tenantId: number;
  kind: PrincipalKind;
  address: string;
  displayName: string | null;
  role: Role;
  quotaBytes: number | null;
  /** A disabled account cannot sign in (password or API token); its mail is still delivered. */
  disabled: boolean;
  /** Sessions signed in under an older generation end (a password change, `holdfast user kick`): session-check.ts. */
  sessionGeneration: number;
}

export function toPrincipal(row: {
  id: number;
  tenant_id: number;
  kind: PrincipalKind;
  address: string;
  display_name: string | null;
  role: Role;
  quota_bytes: number | null;
  disabled_at: number | null;
  session_generation: number;
}): Principal {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    address: row.address,
    displayName: row.display_name,
    role: row.role,
    quotaBytes: row.quota_bytes === null ? null : Number(row.quota_bytes),
    disabled: row.disabled_at !== null,
    sessionGeneration: row.session_generation,
  };
}

/** The principal with this id (the owner of a calendar or folder); it must exist. */
export async function principalById(db: Kysely<Database>, id: number): Promise<Principal> {
  return toPrincipal(await db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** The quota of the principal with this id, in bytes: null for none (or no such principal). */
export async function quotaBytesOf(db: Kysely<Database>, id: number): Promise<number | null> {
  const row = await db.selectFrom('principals').select('quota_bytes').where('id', '=', id).executeTakeFirst();
  return row?.quota_bytes == null ? null : Number(row.quota_bytes);
}

/** The principal whose primary address this is, in the tenant; groups are not principals one can act on. */
export async function principalInTenant(
  db: Kysely<Database>,
  tenantId: number,
  address: string,
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('principals')
    .selectAll()
    .where('address', '=', address.toLowerCase())
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row && row.kind !== 'group' ? toPrincipal(row) : undefined;
}

/** The principal an address (primary or alias) reaches in the tenant, groups left out. */
export async function principalReachedBy(
  db: Kysely<Database>,
  tenantId: number,
  address: string,
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('addresses')
    .innerJoin('principals', 'principals.id', 'addresses.principal_id')
    .selectAll('principals')
    .where('addresses.address', '=', address)
    .where('addresses.tenant_id', '=', tenantId)
    .where('principals.kind', '!=', 'group')
    .executeTakeFirst();
  return row ? toPrincipal(row) : undefined;
}
