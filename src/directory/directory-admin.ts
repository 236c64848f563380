// The directory as one administrator may see and change it (the admin API, web/admin-directory-routes.ts):
// a global administrator every tenant, a tenant administrator their own. What lies in another
// tenant (a user, a domain, the tenant's name itself) is answered exactly as if it did not exist, so
// a tenant administrator learns nothing of other tenants. On top of the CLI's rules, a tenant
// administrator can neither make anyone a global administrator nor change a global administrator
// (their password, role, quota or sign-in): that would hand them the whole installation.
import { forbidden, invalid, notFound } from '../errors.ts';
import type { DomainKind, PrincipalKind, Role } from '../store/schema.ts';
import type { Directory, Tenant } from './directory.ts';
import { parseAddress, parseDomain } from './names.ts';
import { generatePassword } from './passwords.ts';
import type { Principal } from './principal.ts';
import type { Alias, Domain, PrincipalChanges, TenantDirectory } from './tenant-directory.ts';

/** Who acts: what the admin API's authentication found. */
export interface AdminActor {
  address: string;
  role: 'global-admin' | 'tenant-admin';
  /** The tenant of a tenant administrator. */
  tenant?: string;
}

export type ListedUser = Principal & { tenant: string };

export interface UserPage {
  total: number;
  users: ListedUser[];
}

export interface UserSearch {
  tenant?: string;
  domain?: string;
  /** Part of the address or display name, any case. */
  search?: string;
  offset: number;
  limit: number;
}

export class DirectoryAdmin {
  constructor(
    private readonly directory: Directory,
    readonly actor: AdminActor,
  ) {}

  /** The tenants this administrator covers: `name` alone (unknown when not theirs), else all theirs. */
  async tenants(name?: string): Promise<Tenant[]> {
    const all = await this.directory.listTenants();
    const own = this.actor.role === 'global-admin' ? all : all.filter((t) => t.name === this.actor.tenant);
    if (name === undefined) return own;
    const found = own.find((t) => t.name === name.trim().toLowerCase());
    if (!found) throw notFound('unknown-tenant', `unknown tenant "${name}"`);
    return [found];
  }

  /** The one tenant a new domain or user goes into: the named one, else the administrator's own (or "default"). */
  private async targetTenant(name?: string): Promise<TenantDirectory> {
    const [tenant] = await this.tenants(name ?? this.actor.tenant ?? 'default');
    return this.directory.tenant(tenant!.name);
  }

  /** The tenant owning a domain, when the administrator covers it; otherwise "unknown domain". */
  async scopeOfDomain(domainInput: string): Promise<TenantDirectory> {
    const domain = parseDomain(domainInput);
    const owner = await this.directory.findDomain(domain);
    const covered = owner && (await this.tenants()).some((t) => t.id === owner.tenantId);
    if (!covered) throw notFound('unknown-domain', `unknown domain "${domain}"`);
    return this.directory.tenantOfDomain(domain);
  }

  // Domains ---------------------------------------------------------------------------------------

  async listDomains(tenant?: string): Promise<(Domain & { tenant: string })[]> {
    const rows: (Domain & { tenant: string })[] = [];
    for (const t of await this.tenants(tenant)) {
      const scope = await this.directory.tenant(t.name);
      for (const d of await scope.listDomains()) rows.push({ ...d, tenant: t.name });
    }
    return rows.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async addDomain(name: string, kind: DomainKind, tenant?: string): Promise<Domain & { tenant: string }> {
    const scope = await this.targetTenant(tenant);
    const added = await scope.addDomain(name, kind);
    return { ...added, tenant: await this.tenantName(scope.tenantId) };
  }

  /** The aliases of the tenants covered (`tenant` alone when given), by alias. */
  async listAliases(tenant?: string): Promise<(Alias & { tenant: string })[]> {
    const rows: (Alias & { tenant: string })[] = [];
    for (const t of await this.tenants(tenant)) {
      const scope = await this.directory.tenant(t.name);
      for (const a of await scope.listAliases()) rows.push({ ...a, tenant: t.name });
    }
    return rows.sort((a, b) => (a.alias < b.alias ? -1 : 1));
  }

  /** Adds an alias in the tenant owning its domain; the target must be in that tenant too (else unknown). */
  async addAlias(alias: string, target: string): Promise<Alias & { tenant: string }> {
    const scope = await this.scopeOfAddress(alias);
    const added = await scope.addAlias(alias, target);
    return { ...added, tenant: await this.tenantName(scope.tenantId) };
  }

  async removeAlias(alias: string): Promise<string> {
    const scope = await this.scopeOfAddress(alias);
    await scope.removeAlias(alias);
    return parseAddress(alias).address;
  }

  async removeDomain(name: string): Promise<string> {
    const scope = await this.scopeOfDomain(name);
    await scope.removeDomain(name);
    return parseDomain(name);
  }

  // Users -------------------------------------------------------------------------------------------

  async listUsers(query: UserSearch): Promise<UserPage> {
    return this.list(['user'], query);
  }

  /** Principals of these kinds in the tenants covered, by address, one page of them. */
  async list(kinds: PrincipalKind[], query: UserSearch): Promise<UserPage> {
    const search = query.search?.trim().toLowerCase();
    const domain = query.domain ? parseDomain(query.domain) : undefined;
    const matching: ListedUser[] = [];
    for (const t of await this.tenants(query.tenant)) {
      const scope = await this.directory.tenant(t.name);
      for (const principal of await scope.listPrincipals(kinds)) {
        if (domain && !principal.address.endsWith(`@${domain}`)) continue;
        if (search && !`${principal.address}\n${principal.displayName ?? ''}`.toLowerCase().includes(search)) continue;
        matching.push({ ...principal, tenant: t.name });
      }
    }
    matching.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    return { total: matching.length, users: matching.slice(query.offset, query.offset + query.limit) };
  }

  /** Adds a group, shared mailbox, room or equipment (they have no password and no role). */
  async addMailbox(
    kind: Exclude<PrincipalKind, 'user'>,
    input: { address: string; displayName?: string; quotaBytes?: number | null },
  ): Promise<ListedUser> {
    const scope = await this.scopeOfAddress(input.address);
    return this.listed(await scope.addPrincipal({ ...input, kind }));
  }

  /** Removes a principal of one of these kinds (not users: the admin API does not remove them). */
  async remove(address: string, kinds: Exclude<PrincipalKind, 'user'>[]): Promise<string> {
    const scope = await this.scopeOfAddress(address);
    return (await scope.removePrincipal(address, kinds)).address;
  }

  async getUser(address: string): Promise<ListedUser> {
    const scope = await this.scopeOfAddress(address);
    return this.listed(await scope.getPrincipal(address, ['user']));
  }

  /** Adds a user in the tenant owning the address's domain; without a password one is generated (and answered once). */
  async addUser(input: {
    address: string;
    password?: string;
    displayName?: string;
    role?: Role;
    quotaBytes?: number | null;
  }): Promise<{ user: ListedUser; generatedPassword?: string }> {
    this.mayGrant(input.role);
    const scope = await this.scopeOfAddress(input.address);
    const password = input.password ?? generatePassword();
    const added = await scope.addPrincipal({ ...input, kind: 'user', password });
    return { user: await this.listed(added), ...(input.password ? {} : { generatedPassword: password }) };
  }

  async updateUser(address: string, changes: PrincipalChanges): Promise<ListedUser> {
    this.mayGrant(changes.role);
    const { scope } = await this.changeable(address);
    return this.listed(await scope.updatePrincipal(address, changes, ['user']));
  }

  /** Sets a new password (generated when none is given); the user's open sessions end. */
  async resetPassword(address: string, password?: string): Promise<{ user: ListedUser; generatedPassword?: string }> {
    const { scope, user } = await this.changeable(address);
    const next = password ?? generatePassword();
    await scope.setPassword(user.address, next);
    return { user: await this.listed(user), ...(password ? {} : { generatedPassword: next }) };
  }

  // ---------------------------------------------------------------------------------------------------

  /** The tenant owning an address's domain, when the administrator covers it; otherwise "unknown domain". */
  async scopeOfAddress(address: string): Promise<TenantDirectory> {
    return this.scopeOfDomain(parseAddress(address).domain);
  }

  /** A user this administrator may change: a tenant administrator may not change a global one. */
  private async changeable(address: string): Promise<{ scope: TenantDirectory; user: Principal }> {
    const scope = await this.scopeOfAddress(address);
    const user = await scope.getPrincipal(address, ['user']);
    if (this.actor.role !== 'global-admin' && user.role === 'global-admin')
      throw forbidden(
        'global-admin-target',
        `${user.address} is a global administrator: only a global administrator may change them`,
      );
    return { scope, user };
  }

  private mayGrant(role: Role | undefined) {
    if (role === 'global-admin' && this.actor.role !== 'global-admin')
      throw forbidden('role', 'role: a tenant administrator cannot make anyone a global administrator');
  }

  private async listed(principal: Principal): Promise<ListedUser> {
    return { ...principal, tenant: await this.tenantName(principal.tenantId) };
  }

  private async tenantName(id: number): Promise<string> {
    const tenant = (await this.directory.listTenants()).find((t) => t.id === id);
    if (!tenant) throw invalid('unknown-tenant', `unknown tenant #${id}`);
    return tenant.name;
  }
}
