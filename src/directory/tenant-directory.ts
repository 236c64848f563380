// The directory inside one tenant: domains, principals, aliases and groups. Every query carries
// the tenant id; objects of other tenants are reported exactly as if they did not exist.
import { sql, type Kysely } from 'kysely';
import { conflict, invalid, notFound } from '../errors.ts';
import type { Database, DomainKind, PrincipalKind, Role } from '../store/schema.ts';
import { toPrincipal, type Principal } from './principal.ts';
import { expandGroup, findLoop } from './group-expansion.ts';
import { parseAddress, parseDomain, parseNewDomain } from './names.ts';
import { checkPasswordStrength, hashPassword } from './passwords.ts';

export interface Domain {
  id: number;
  name: string;
  kind: DomainKind;
  addresses: number;
}

export interface Grant {
  mailbox: string;
  grantee: string;
  fullAccess: boolean;
  sendAs: boolean;
}

export interface Alias {
  alias: string;
  target: string;
}

export interface NewPrincipal {
  kind: PrincipalKind;
  address: string;
  displayName?: string;
  /** Required for users (they sign in); shared mailboxes, groups and resources have none. */
  password?: string;
  role?: Role;
  quotaBytes?: number | null;
}

/** What `updatePrincipal` may change; a field left out keeps its value. */
export interface PrincipalChanges {
  displayName?: string | null;
  role?: Role;
  quotaBytes?: number | null;
  /** Disabled: cannot sign in (password or API token); mail to it is still delivered. */
  disabled?: boolean;
}

export const domainKinds: DomainKind[] = ['authoritative', 'internal-relay'];
const mailboxKinds: PrincipalKind[] = ['user', 'shared', 'room', 'equipment'];

export class TenantDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    readonly tenantId: number,
    private readonly now: () => number = Date.now,
    /** Told after every change of domains, principals and addresses (mail routing caches them: lookup-cache.ts). */
    private readonly changed: () => void = () => {},
  ) {}

  // Domains -----------------------------------------------------------------------------------------

  async addDomain(nameInput: string, kind: DomainKind = 'authoritative'): Promise<Domain> {
    const name = parseNewDomain(nameInput);
    if (!domainKinds.includes(kind))
      throw invalid(
        'invalid-domain-kind',
        `domain type "${kind}" is not allowed: expected authoritative or internal-relay`,
      );
    if (await this.db.selectFrom('domains').select('id').where('name', '=', name).executeTakeFirst()) {
      throw conflict('duplicate-domain', `domain ${name} is already in use`);
    }
    await this.db
      .insertInto('domains')
      .values({ tenant_id: this.tenantId, name, kind, created_at: this.now() })
      .execute();
    this.changed();
    return this.getDomain(name);
  }

  async listDomains(): Promise<Domain[]> {
    const rows = await this.db
      .selectFrom('domains')
      .leftJoin('addresses', 'addresses.domain_id', 'domains.id')
      .select((eb) => [
        'domains.id',
        'domains.name',
        'domains.kind',
        eb.fn.count<number>('addresses.address').as('addresses'),
      ])
      .where('domains.tenant_id', '=', this.tenantId)
      .groupBy(['domains.id', 'domains.name', 'domains.kind'])
      .orderBy('domains.name')
      .execute();
    return rows.map((r) => ({ ...r, addresses: Number(r.addresses) }));
  }

  async getDomain(nameInput: string): Promise<Domain> {
    const name = parseDomain(nameInput);
    const domain = (await this.listDomains()).find((d) => d.name === name);
    if (!domain) throw notFound('unknown-domain', `unknown domain "${nameInput}"`);
    return domain;
  }

  async removeDomain(nameInput: string): Promise<void> {
    const domain = await this.getDomain(nameInput);
    if (domain.addresses > 0) {
      throw conflict(
        'domain-in-use',
        `domain ${domain.name} still has ${domain.addresses} address(es); remove its users, aliases and groups first`,
      );
    }
    await this.db.deleteFrom('domains').where('id', '=', domain.id).where('tenant_id', '=', this.tenantId).execute();
    this.changed();
  }

  // Principals ----------------------------------------------------------------------------------------

  async addPrincipal(input: NewPrincipal): Promise<Principal> {
    const { address, domain } = parseAddress(input.address);
    const domainRow = await this.requireOwnDomain(domain);
    await this.requireFreeAddress(address);
    let passwordHash: string | null = null;
    if (input.kind === 'user') {
      if (!input.password) throw invalid('password-required', `a password is required for user ${address}`);
      checkPasswordStrength(input.password, address);
      passwordHash = await hashPassword(input.password);
    } else if (input.password) {
      throw invalid(
        'password-not-allowed',
        `a ${input.kind} cannot sign in, so it takes no password; grant users access to it instead`,
      );
    }
    const now = this.now();
    const quota = mailboxKinds.includes(input.kind) ? (input.quotaBytes ?? null) : null;
    await this.db.transaction().execute(async (trx) => {
      const principal = await trx
        .insertInto('principals')
        .values({
          tenant_id: this.tenantId,
          kind: input.kind,
          address,
          display_name: input.displayName ?? null,
          password_hash: passwordHash,
          role: input.role ?? 'user',
          quota_bytes: quota,
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('addresses')
        .values({
          address,
          tenant_id: this.tenantId,
          domain_id: domainRow.id,
          principal_id: principal.id,
          kind: 'primary',
          created_at: now,
        })
        .execute();
    });
    this.changed();
    return this.getPrincipal(address);
  }

  async listPrincipals(kinds?: PrincipalKind[]): Promise<Principal[]> {
    let query = this.db.selectFrom('principals').selectAll().where('tenant_id', '=', this.tenantId);
    if (kinds?.length) query = query.where('kind', 'in', kinds);
    return (await query.orderBy('address').execute()).map(toPrincipal);
  }

  /**
   * Enabled principals whose address, or a word of whose name, starts with `text` (address
   * completion), by address, at most `limit`: the database finds them, so a large tenant costs one
   * bounded answer rather than every principal in memory.
   */
  async findPrincipals(text: string, kinds: PrincipalKind[], limit: number): Promise<Principal[]> {
    const start = `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db
      .selectFrom('principals')
      .selectAll()
      .where('tenant_id', '=', this.tenantId)
      .where('kind', 'in', kinds)
      .where('disabled_at', 'is', null)
      .where((eb) =>
        eb.or([
          sql<boolean>`${eb.ref('address')} like ${start} escape '\\'`,
          sql<boolean>`lower(${eb.ref('display_name')}) like ${start} escape '\\'`,
          sql<boolean>`lower(${eb.ref('display_name')}) like ${`% ${start}`} escape '\\'`,
        ]),
      )
      .orderBy('address')
      .limit(limit)
      .execute();
    return rows.map(toPrincipal);
  }

  /** A principal by its primary address or an alias, in this tenant only. */
  async getPrincipal(addressInput: string, kinds?: PrincipalKind[]): Promise<Principal> {
    const { address } = parseAddress(addressInput);
    const row = await this.db
      .selectFrom('addresses')
      .innerJoin('principals', 'principals.id', 'addresses.principal_id')
      .selectAll('principals')
      .where('addresses.address', '=', address)
      .where('addresses.tenant_id', '=', this.tenantId)
      .executeTakeFirst();
    if (!row || (kinds && !kinds.includes(row.kind))) {
      const what = kinds?.length === 1 ? kinds[0] : 'address';
      throw notFound(`unknown-${what}`, `unknown ${what} ${address}`);
    }
    return toPrincipal(row);
  }

  /** Sets a new password; sessions signed in with the old one end (session-check.ts). */
  async setPassword(addressInput: string, password: string): Promise<void> {
    const principal = await this.getPrincipal(addressInput, ['user']);
    checkPasswordStrength(password, principal.address);
    await this.endSessionsOf(principal, { password_hash: await hashPassword(password) });
  }

  /** Ends every session of a user, on every node, within `sessionRecheckMs` (`holdfast user kick`); they may sign in again. */
  async endSessions(addressInput: string): Promise<Principal> {
    const principal = await this.getPrincipal(addressInput, ['user']);
    await this.endSessionsOf(principal);
    return principal;
  }

  /** A new session generation, with `values` in the same update: sessions of the old one end. */
  private async endSessionsOf(principal: Principal, values: { password_hash?: string } = {}) {
    await this.db
      .updateTable('principals')
      .set((eb) => ({ ...values, session_generation: eb('session_generation', '+', 1) }))
      .where('id', '=', principal.id)
      .where('tenant_id', '=', this.tenantId)
      .execute();
  }

  async setQuota(addressInput: string, quotaBytes: number | null): Promise<Principal> {
    return this.updatePrincipal(addressInput, { quotaBytes });
  }

  async updatePrincipal(
    addressInput: string,
    changes: PrincipalChanges,
    kinds: PrincipalKind[] = mailboxKinds,
  ): Promise<Principal> {
    const principal = await this.getPrincipal(addressInput, kinds);
    const losesGlobalAdmin =
      principal.role === 'global-admin' &&
      !principal.disabled &&
      ((changes.role && changes.role !== 'global-admin') || changes.disabled);
    if (losesGlobalAdmin) await this.requireAnotherGlobalAdmin(principal);
    const values = {
      ...(changes.displayName !== undefined && { display_name: changes.displayName?.trim() || null }),
      ...(changes.role !== undefined && { role: changes.role }),
      ...(changes.quotaBytes !== undefined && { quota_bytes: changes.quotaBytes }),
      // Disabling again keeps the time it was first disabled.
      ...(changes.disabled !== undefined &&
        changes.disabled !== principal.disabled && { disabled_at: changes.disabled ? this.now() : null }),
    };
    if (Object.keys(values).length === 0) return principal;
    await this.db
      .updateTable('principals')
      .set(values)
      .where('id', '=', principal.id)
      .where('tenant_id', '=', this.tenantId)
      .execute();
    this.changed();
    return this.getPrincipal(principal.address);
  }

  /** Someone must always be able to sign in and administer the whole installation. */
  private async requireAnotherGlobalAdmin(principal: Principal) {
    const other = await this.db
      .selectFrom('principals')
      .select('id')
      .where('role', '=', 'global-admin')
      .where('disabled_at', 'is', null)
      .where('id', '!=', principal.id)
      .executeTakeFirst();
    if (!other) {
      throw conflict(
        'last-global-admin',
        `${principal.address} is the only enabled global administrator: make another user one first (holdfast user set <address> --role global-admin)`,
      );
    }
  }

  async removePrincipal(addressInput: string, kinds?: PrincipalKind[]): Promise<Principal> {
    const principal = await this.getPrincipal(addressInput, kinds);
    if (principal.role === 'global-admin' && !principal.disabled) await this.requireAnotherGlobalAdmin(principal);
    const addresses = await this.addressesOf(principal.id);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('group_members')
        .where('tenant_id', '=', this.tenantId)
        .where('member_address', 'in', addresses)
        .execute();
      await trx
        .deleteFrom('principals')
        .where('id', '=', principal.id)
        .where('tenant_id', '=', this.tenantId)
        .execute();
    });
    this.changed();
    return principal;
  }

  // Aliases -------------------------------------------------------------------------------------------

  async addAlias(aliasInput: string, targetInput: string): Promise<Alias> {
    const { address: alias, domain } = parseAddress(aliasInput);
    const domainRow = await this.requireOwnDomain(domain);
    const target = await this.getPrincipal(targetInput);
    await this.requireFreeAddress(alias);
    await this.db
      .insertInto('addresses')
      .values({
        address: alias,
        tenant_id: this.tenantId,
        domain_id: domainRow.id,
        principal_id: target.id,
        kind: 'alias',
        created_at: this.now(),
      })
      .execute();
    this.changed();
    return { alias, target: target.address };
  }

  async listAliases(): Promise<Alias[]> {
    return this.db
      .selectFrom('addresses')
      .innerJoin('principals', 'principals.id', 'addresses.principal_id')
      .select(['addresses.address as alias', 'principals.address as target'])
      .where('addresses.tenant_id', '=', this.tenantId)
      .where('addresses.kind', '=', 'alias')
      .orderBy('addresses.address')
      .execute();
  }

  async removeAlias(aliasInput: string): Promise<void> {
    const { address } = parseAddress(aliasInput);
    const result = await this.db
      .deleteFrom('addresses')
      .where('address', '=', address)
      .where('kind', '=', 'alias')
      .where('tenant_id', '=', this.tenantId)
      .executeTakeFirst();
    if (!result.numDeletedRows) throw notFound('unknown-alias', `unknown alias ${address}`);
    this.changed();
  }

  // Groups --------------------------------------------------------------------------------------------

  async addGroupMember(groupInput: string, memberInput: string): Promise<string[]> {
    const group = await this.getPrincipal(groupInput, ['group']);
    const { address: member, domain } = parseAddress(memberInput);
    const local = await this.findOwnDomain(domain);
    if (local) {
      // An address in our own domain must exist: a typo would otherwise silently lose mail.
      const target = await this.getPrincipal(member);
      if (target.id === group.id)
        throw invalid('group-loop', `a group cannot be a member of itself (${group.address})`);
      if (target.kind === 'group') {
        const loop = await findLoop(this.membersOf, group.address, target.address);
        if (loop)
          throw invalid(
            'group-loop',
            `adding ${target.address} to ${group.address} would make a loop: ${loop.join(' → ')}`,
          );
      }
    }
    const existing = await this.membersOf(group.address);
    if (existing.includes(member))
      throw conflict('duplicate-member', `${member} is already a member of ${group.address}`);
    await this.db
      .insertInto('group_members')
      .values({ group_id: group.id, tenant_id: this.tenantId, member_address: member, created_at: this.now() })
      .execute();
    return this.membersOf(group.address);
  }

  async removeGroupMember(groupInput: string, memberInput: string): Promise<string[]> {
    const group = await this.getPrincipal(groupInput, ['group']);
    const { address: member } = parseAddress(memberInput);
    const result = await this.db
      .deleteFrom('group_members')
      .where('group_id', '=', group.id)
      .where('tenant_id', '=', this.tenantId)
      .where('member_address', '=', member)
      .executeTakeFirst();
    if (!result.numDeletedRows) throw notFound('unknown-member', `${member} is not a member of ${group.address}`);
    return this.membersOf(group.address);
  }

  /** Direct members of a group (addresses as they were added). */
  membersOf = async (groupAddress: string): Promise<string[]> => {
    const group = await this.getPrincipal(groupAddress, ['group']);
    const rows = await this.db
      .selectFrom('group_members')
      .select('member_address')
      .where('group_id', '=', group.id)
      .where('tenant_id', '=', this.tenantId)
      .orderBy('member_address')
      .execute();
    return rows.map((r) => r.member_address);
  };

  /** Every final recipient of a group: nested groups expanded, aliases resolved, duplicates removed. */
  async expandGroup(groupAddress: string): Promise<string[]> {
    const group = await this.getPrincipal(groupAddress, ['group']);
    return expandGroup(group.address, async (address) => {
      const principal = await this.getPrincipal(address).catch(() => undefined);
      if (!principal) return { kind: 'outside', address };
      if (principal.kind === 'group')
        return { kind: 'group', address: principal.address, members: await this.membersOf(principal.address) };
      return { kind: 'mailbox', address: principal.address };
    });
  }

  // Mailbox grants ------------------------------------------------------------------------------------

  /** Gives a user rights on another mailbox (typically a shared mailbox): full access and/or send-as. */
  async grant(
    targetInput: string,
    granteeInput: string,
    rights: { fullAccess: boolean; sendAs: boolean },
  ): Promise<Grant> {
    const target = await this.getPrincipal(targetInput, mailboxKinds);
    const grantee = await this.getPrincipal(granteeInput, ['user']);
    if (target.id === grantee.id) throw invalid('invalid-grant', `${grantee.address} already owns that mailbox`);
    if (!rights.fullAccess && !rights.sendAs) throw invalid('invalid-grant', 'give --full-access, --send-as or both');
    await this.db
      .deleteFrom('mailbox_grants')
      .where('target_id', '=', target.id)
      .where('grantee_id', '=', grantee.id)
      .execute();
    await this.db
      .insertInto('mailbox_grants')
      .values({
        target_id: target.id,
        grantee_id: grantee.id,
        tenant_id: this.tenantId,
        full_access: rights.fullAccess ? 1 : 0,
        send_as: rights.sendAs ? 1 : 0,
        created_at: this.now(),
      })
      .execute();
    return { mailbox: target.address, grantee: grantee.address, ...rights };
  }

  async revoke(targetInput: string, granteeInput: string): Promise<void> {
    const target = await this.getPrincipal(targetInput, mailboxKinds);
    const grantee = await this.getPrincipal(granteeInput, ['user']);
    const result = await this.db
      .deleteFrom('mailbox_grants')
      .where('target_id', '=', target.id)
      .where('grantee_id', '=', grantee.id)
      .where('tenant_id', '=', this.tenantId)
      .executeTakeFirst();
    if (!result.numDeletedRows)
      throw notFound('unknown-grant', `${grantee.address} has no rights on ${target.address}`);
  }

  async listGrants(targetInput: string): Promise<Grant[]> {
    const target = await this.getPrincipal(targetInput, mailboxKinds);
    const rows = await this.db
      .selectFrom('mailbox_grants')
      .innerJoin('principals', 'principals.id', 'mailbox_grants.grantee_id')
      .select(['principals.address', 'mailbox_grants.full_access', 'mailbox_grants.send_as'])
      .where('mailbox_grants.target_id', '=', target.id)
      .where('mailbox_grants.tenant_id', '=', this.tenantId)
      .orderBy('principals.address')
      .execute();
    return rows.map((r) => ({
      mailbox: target.address,
      grantee: r.address,
      fullAccess: r.full_access === 1,
      sendAs: r.send_as === 1,
    }));
  }

  // ---------------------------------------------------------------------------------------------------

  private async addressesOf(principalId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('addresses')
      .select('address')
      .where('principal_id', '=', principalId)
      .where('tenant_id', '=', this.tenantId)
      .execute();
    return rows.map((r) => r.address);
  }

  private async findOwnDomain(name: string) {
    return this.db
      .selectFrom('domains')
      .select(['id', 'kind'])
      .where('name', '=', name)
      .where('tenant_id', '=', this.tenantId)
      .executeTakeFirst();
  }

  private async requireOwnDomain(name: string) {
    const domain = await this.findOwnDomain(name);
    if (!domain) throw notFound('unknown-domain', `unknown domain "${name}": add it first with "holdfast domain add"`);
    return domain;
  }

  private async requireFreeAddress(address: string) {
    if (await this.db.selectFrom('addresses').select('address').where('address', '=', address).executeTakeFirst()) {
      throw conflict('duplicate-address', `the address ${address} is already in use`);
    }
  }
}
