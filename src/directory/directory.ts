// The directory: resource forests, tenants, and the lookups that cross tenants (address routing,
// authentication). Everything inside a tenant goes through `TenantDirectory`, which adds the tenant
// to every query so that one tenant can never reach another's objects.
import type { Kysely, Selectable } from 'kysely';
import { conflict, invalid, notFound } from '../errors.ts';
import { PreparedQuery } from '../store/prepared-query.ts';
import type { AddressTable, Database, DomainKind, PrincipalTable } from '../store/schema.ts';
import { parseAddress, parseDomain, parseName } from './names.ts';
import { verifyNoPassword, verifyPassword } from './passwords.ts';
import {
  CredentialCache,
  defaultCredentialCacheSettings,
  type CredentialCacheSettings,
  type CredentialCacheStats,
  type StoredCredential,
} from './credential-cache.ts';
import { kdfQueue, type KdfStats } from './kdf-queue.ts';
import { toPrincipal, type Principal } from './principal.ts';
import { TenantDirectory } from './tenant-directory.ts';
import { cachedRouting, LookupCache } from './lookup-cache.ts';

// Principals are defined in principal.ts (tenant-directory.ts needs them too); most callers import them from here.
export { toPrincipal, type Principal } from './principal.ts';

export interface Forest {
  id: number;
  name: string;
  maxConnections: number;
  tenants: number;
}

export interface Tenant {
  id: number;
  name: string;
  forest: string;
  forestId: number;
}

export interface ResolvedAddress {
  address: string;
  tenantId: number;
  principal: Principal;
  viaAlias: boolean;
}

export interface DomainOwner {
  name: string;
  kind: DomainKind;
  tenantId: number;
}

export const defaultForestMaxConnections = 1000;

/**
 * The service health probe's own tenant and forest (health/checks/probe-account.ts): its traffic is
 * kept out of customers' limits and statistics, so no other tenant joins that forest and the probe's
 * tenant never leaves it.
 */
export const probeTenantName = 'holdfast-probe';

/** Refuses a tenant in a forest where it may not be: only the probe's tenant is in the probe's forest. */
export function requireTenantForest(tenant: string, forest: string) {
  if ((tenant === probeTenantName) === (forest === probeTenantName)) return;
  throw invalid(
    'reserved-forest',
    tenant === probeTenantName
      ? `tenant "${probeTenantName}" is the service health probe's and stays in its own forest`
      : `forest "${probeTenantName}" is the service health probe's own; choose another forest`,
  );
}

export class Directory {
  /** Cleared after every change made through this directory or its TenantDirectories. */
  private readonly routingCache: LookupCache;
  /**
   * This directory for mail routing: domains, addresses and forests answered from a short cache
   * (lookup-cache.ts says how stale an answer may be).
   */
  readonly routing: Directory;
  /** Sign-ins whose password was checked lately (credential-cache.ts): a second one costs no KDF. */
  readonly credentials: CredentialCache;

  constructor(
    readonly db: Kysely<Database>,
    readonly now: () => number = Date.now,
    /** [auth] cache_size and cache_ttl; what is left out is the cache's default. */
    credentialCache: Partial<CredentialCacheSettings> = {},
  ) {
    this.routingCache = new LookupCache(now);
    this.routing = cachedRouting(this, this.routingCache);
    this.credentials = new CredentialCache(withDefaults(credentialCache, defaultCredentialCacheSettings), now);
  }

  // Forests ---------------------------------------------------------------------------------------

  async addForest(input: { name: string; maxConnections?: number }): Promise<Forest> {
    const name = parseName('forest', input.name);
    const maxConnections = checkLimit('--max-connections', input.maxConnections ?? defaultForestMaxConnections);
    if (await this.db.selectFrom('forests').select('id').where('name', '=', name).executeTakeFirst()) {
      throw conflict('duplicate-forest', `resource forest "${name}" already exists`);
    }
    await this.db
      .insertInto('forests')
      .values({ name, max_connections: maxConnections, created_at: this.now() })
      .execute();
    return this.getForest(name);
  }

  async setForest(nameInput: string, changes: { maxConnections?: number }): Promise<Forest> {
    const forest = await this.getForest(nameInput);
    if (changes.maxConnections !== undefined) {
      const maxConnections = checkLimit('--max-connections', changes.maxConnections);
      await this.db
        .updateTable('forests')
        .set({ max_connections: maxConnections })
        .where('id', '=', forest.id)
        .execute();
      this.routingCache.clear();
    }
    return this.getForest(forest.name);
  }

  async listForests(): Promise<Forest[]> {
    const rows = await this.db
      .selectFrom('forests')
      .leftJoin('tenants', 'tenants.forest_id', 'forests.id')
      .select((eb) => [
        'forests.id',
        'forests.name',
        'forests.max_connections',
        eb.fn.count<number>('tenants.id').as('tenants'),
      ])
      .groupBy(['forests.id', 'forests.name', 'forests.max_connections'])
      .orderBy('forests.name')
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, maxConnections: r.max_connections, tenants: Number(r.tenants) }));
  }

  async getForest(nameInput: string): Promise<Forest> {
    const name = nameInput.trim().toLowerCase();
    const forest = (await this.listForests()).find((f) => f.name === name);
    if (!forest) throw notFound('unknown-forest', `unknown resource forest "${nameInput}"`);
    return forest;
  }

  // Tenants ---------------------------------------------------------------------------------------

  async addTenant(input: { name: string; forest?: string }): Promise<Tenant> {
    const name = parseName('tenant', input.name);
    const forest = await this.getForest(input.forest ?? 'default');
    requireTenantForest(name, forest.name);
    if (await this.db.selectFrom('tenants').select('id').where('name', '=', name).executeTakeFirst()) {
      throw conflict('duplicate-tenant', `tenant "${name}" already exists`);
    }
    await this.db.insertInto('tenants').values({ name, forest_id: forest.id, created_at: this.now() }).execute();
    return this.getTenant(name);
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.db
      .selectFrom('tenants')
      .innerJoin('forests', 'forests.id', 'tenants.forest_id')
      .select(['tenants.id', 'tenants.name', 'forests.name as forest', 'forests.id as forestId'])
      .orderBy('tenants.name')
      .execute();
    return rows;
  }

  async getTenant(nameInput: string): Promise<Tenant> {
    const name = nameInput.trim().toLowerCase();
    const tenant = (await this.listTenants()).find((t) => t.name === name);
    if (!tenant) throw notFound('unknown-tenant', `unknown tenant "${nameInput}"`);
    return tenant;
  }

  /** Moves a tenant into another resource forest: its mail counts against that forest's limits from now on. */
  async moveTenant(nameInput: string, forestInput: string): Promise<Tenant> {
    const tenant = await this.getTenant(nameInput);
    const forest = await this.getForest(forestInput);
    requireTenantForest(tenant.name, forest.name);
    if (forest.id !== tenant.forestId) {
      await this.db.updateTable('tenants').set({ forest_id: forest.id }).where('id', '=', tenant.id).execute();
      this.routingCache.clear();
    }
    return this.getTenant(tenant.name);
  }

  /** The forest a tenant belongs to, with its limits (one query: this is on the SMTP hot path). */
  async forestOfTenant(tenantId: number): Promise<{ id: number; name: string; maxConnections: number }> {
    const row = await lookups.forestOfTenant.first(this.db, { tenantId });
    if (!row) throw notFound('unknown-tenant', `unknown tenant #${tenantId}`);
    return { id: row.id, name: row.name, maxConnections: Number(row.max_connections) };
  }

  /** The directory as seen from inside one tenant. */
  async tenant(name: string): Promise<TenantDirectory> {
    const tenant = await this.getTenant(name);
    return new TenantDirectory(this.db, tenant.id, this.now, () => this.routingCache.clear());
  }

  /** The tenant that owns a domain (used where an address implies its tenant, as on the CLI). */
  async tenantOfDomain(domainInput: string): Promise<TenantDirectory> {
    const owner = await this.findDomain(domainInput);
    if (!owner)
      throw notFound('unknown-domain', `unknown domain "${domainInput}": add it first with "holdfast domain add"`);
    return new TenantDirectory(this.db, owner.tenantId, this.now, () => this.routingCache.clear());
  }

  // Lookups across tenants (mail routing, login) ----------------------------------------------------

  async findDomain(domainInput: string): Promise<DomainOwner | undefined> {
    const name = parseDomain(domainInput);
    const row = await lookups.domain.first(this.db, { name });
    return row && { name: row.name, kind: row.kind, tenantId: row.tenant_id };
  }

  /** Which principal an address reaches (its primary address or an alias), in whatever tenant. */
  async resolveAddress(addressInput: string): Promise<ResolvedAddress | undefined> {
    const { address } = parseAddress(addressInput);
    const row = await lookups.address.first(this.db, { address });
    if (!row) return undefined;
    return { address, tenantId: row.tenant_id, principal: toPrincipal(row), viaAlias: row.address_kind === 'alias' };
  }

  /**
   * The principal for a login, or undefined for a wrong address or password (never saying which).
   * A password checked lately against the same row is not checked with the KDF again (the credential
   * cache); otherwise the check waits its turn in the KDF queue, which may throw a temporary failure
   * (HoldfastError 'unavailable', code 'kdf-queue-full') that each protocol answers as such.
   */
  async authenticate(addressInput: string, password: string): Promise<Principal | undefined> {
    const found = await this.signInRow(addressInput);
    if (!found) return verifyNoPassword(password).then(() => undefined);
    const { address, row, hash } = found;
    // A disabled account is checked (and refused) like a wrong password, in the same time.
    const ok = await this.credentials.verify(address, password, storedCredential(row, hash), () =>
      verifyPassword(password, hash),
    );
    return ok ? toPrincipal(row) : undefined;
  }

  /**
   * The principal when these credentials signed in lately and its row has not changed since (no
   * KDF, no wait); undefined otherwise, when `authenticate` decides. For HTTP, where every request
   * carries the password.
   */
  async authenticateFromCache(addressInput: string, password: string): Promise<Principal | undefined> {
    const found = await this.signInRow(addressInput);
    if (!found) return undefined;
    const { address, row, hash } = found;
    return this.credentials.has(address, password, storedCredential(row, hash)) ? toPrincipal(row) : undefined;
  }

  /** The sign-in path's counts (for metrics): this directory's cache and the process's KDF queue. */
  signInStats(): { cache: CredentialCacheStats; kdf: KdfStats } {
    return { cache: this.credentials.stats(), kdf: kdfQueue.stats() };
  }

  /** The row a sign-in name reaches, if it is an address with a password. */
  private async signInRow(addressInput: string) {
    let address: string;
    try {
      address = parseAddress(addressInput).address;
    } catch {
      return undefined;
    }
    const row = await lookups.signIn.first(this.db, { address });
    return row?.password_hash ? { address, row, hash: row.password_hash } : undefined;
  }

  /** Whether `principal` may send as `target` (its own mailbox, or a send-as grant on it). */
  async maySendAs(principalId: number, targetId: number): Promise<boolean> {
    if (principalId === targetId) return true;
    const grant = await this.db
      .selectFrom('mailbox_grants')
      .select('send_as')
      .where('target_id', '=', targetId)
      .where('grantee_id', '=', principalId)
      .executeTakeFirst();
    return grant?.send_as === 1;
  }

  /**
   * The administrators of a tenant (its principals with an admin role), or the global administrators
   * when `tenantId` is null: who reads the postmaster's mail.
   */
  async administrators(tenantId: number | null): Promise<Principal[]> {
    const rows = await this.db
      .selectFrom('principals')
      .selectAll()
      .where('kind', '!=', 'group')
      .$if(tenantId === null, (q) => q.where('role', '=', 'global-admin'))
      .$if(tenantId !== null, (q) =>
        q.where('tenant_id', '=', tenantId!).where('role', 'in', ['tenant-admin', 'global-admin']),
      )
      .orderBy('id')
      .execute();
    return rows.map(toPrincipal);
  }

  async hasGlobalAdmin(): Promise<boolean> {
    return Boolean(
      await this.db.selectFrom('principals').select('id').where('role', '=', 'global-admin').executeTakeFirst(),
    );
  }
}

/** The lookups every SMTP transaction makes, built once (prepared-query.ts). */
const lookups = {
  forestOfTenant: new PreparedQuery<{ tenantId: number }, { id: number; name: string; max_connections: number }>(
    (db, arg) =>
      db
        .selectFrom('tenants')
        .innerJoin('forests', 'forests.id', 'tenants.forest_id')
        .select(['forests.id', 'forests.name', 'forests.max_connections'])
        .where('tenants.id', '=', arg('tenantId')),
  ),
  domain: new PreparedQuery<{ name: string }, { name: string; kind: DomainKind; tenant_id: number }>((db, arg) =>
    db.selectFrom('domains').select(['name', 'kind', 'tenant_id']).where('name', '=', arg('name')),
  ),
  signIn: new PreparedQuery<{ address: string }, Selectable<PrincipalTable>>((db, arg) =>
    db.selectFrom('principals').selectAll().where('address', '=', arg('address')),
  ),
  address: new PreparedQuery<{ address: string }, Selectable<PrincipalTable> & { address_kind: AddressTable['kind'] }>(
    (db, arg) =>
      db
        .selectFrom('addresses')
        .innerJoin('principals', 'principals.id', 'addresses.principal_id')
        .selectAll('principals')
        .select(['addresses.kind as address_kind'])
        .where('addresses.address', '=', arg('address')),
  ),
};

/** `settings` with each undefined value replaced by the default's. */
function withDefaults<T extends object>(settings: Partial<T>, defaults: T): T {
  const defined = Object.entries(settings).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(defined) };
}

function storedCredential(row: Selectable<PrincipalTable>, hash: string): StoredCredential {
  return {
    principalId: row.id,
    passwordHash: hash,
    sessionGeneration: Number(row.session_generation),
    disabled: row.disabled_at !== null,
  };
}

function checkLimit(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw invalid('invalid-limit', `${option} = ${value} is not allowed: expected a whole number greater than 0`);
  return value;
}
