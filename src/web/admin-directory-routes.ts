// Users and domains over the admin API (docs/administration.md, "Admin API"), through
// directory/directory-admin.ts: a tenant administrator sees and changes their tenant only (another
// tenant's user or domain is 404, as one that does not exist), a global administrator everything.
//   GET    /admin/users[?tenant=&domain=&search=&offset=&limit=]   {total, offset, limit, value}
//   GET    /admin/users/{address}
//   POST   /admin/users              {address, password?, name?, role?, quota?}  → 201 {…, generatedPassword?}
//   PATCH  /admin/users/{address}    {name?, role?, quota?, disabled?}
//   POST   /admin/users/{address}/password   {password?} → {…, generatedPassword?} (sessions end)
//   GET    /admin/domains[?tenant=]
//   POST   /admin/domains            {name, kind?, tenant?} → 201
//   DELETE /admin/domains/{name}
//   GET    /admin/domains/{name}/dns         the records the domain needs
//   GET    /admin/domains/{name}/dns/check   each record looked up through the configured resolver
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatSize, parseSize, sizeRule, zeroQuotaRule } from '../config/size.ts';
import { DirectoryAdmin, type ListedUser } from '../directory/directory-admin.ts';
import { parseAddress, parseDomain } from '../directory/names.ts';
import { checkPasswordStrength } from '../directory/passwords.ts';
import { domainKinds } from '../directory/tenant-directory.ts';
import { checkRecords, recordsOfDomain, zoneText } from '../flow/dns-records.ts';
import { createMailDns } from '../flow/dns.ts';
import { refuseProbeAccount } from '../health/probe-guard.ts';
import type { Role } from '../store/schema.ts';
import { adminRoute, asField, FieldError, Fields, paging } from './admin-api.ts';
import type { WebContext } from './web-context.ts';

const roles: Role[] = ['user', 'tenant-admin', 'global-admin'];
const maxPasswordLength = 1024;

/** A user as the API answers it. */
export const shownUser = (u: ListedUser) => ({
  address: u.address,
  name: u.displayName,
  role: u.role,
  quota: u.quotaBytes,
  quotaText: formatSize(u.quotaBytes),
  disabled: u.disabled,
  tenant: u.tenant,
});

/** A quota: bytes, null or "unlimited" for none, or a size such as "5GB". */
export function quotaOf(fields: Fields): number | null | undefined {
  if (!fields.has('quota')) return undefined;
  const raw = fields.raw('quota');
  if (raw === null) return null;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 0) throw new FieldError('quota', 'expected a whole number of bytes');
    if (raw === 0) throw new FieldError('quota', `0 is not allowed: expected ${zeroQuotaRule}`);
    return raw;
  }
  const text = fields.required('quota', 40);
  const bytes = parseSize(text);
  if (bytes === undefined) throw new FieldError('quota', `"${text}" is not ${sizeRule}`);
  if (bytes === 0) throw new FieldError('quota', `"${text}" is not allowed: expected ${zeroQuotaRule}`);
  return bytes;
}

function passwordOf(fields: Fields, address: string): string | undefined {
  const password = fields.text('password', { max: maxPasswordLength });
  if (!password) return undefined;
  asField('password', () => checkPasswordStrength(password, address));
  return password;
}

const addressParam = (request: FastifyRequest) =>
  asField('address', () => parseAddress((request.params as { address: string }).address).address);
const domainParam = (request: FastifyRequest) =>
  asField('name', () => parseDomain((request.params as { name: string }).name));

export function registerAdminDirectoryRoutes(app: FastifyInstance, holdfast: WebContext) {
  const route = (work: (directory: DirectoryAdmin, request: FastifyRequest) => Promise<unknown>) =>
    adminRoute(holdfast, (admin, request) => work(new DirectoryAdmin(holdfast.directory, admin), request));

  // Users --------------------------------------------------------------------------------------------

  app.get(
    '/admin/users',
    route(async (directory, request) => {
      const query = new Fields(request.query, ['tenant', 'domain', 'search', 'offset', 'limit']);
      const page = paging(query);
      const domain = query.text('domain', { max: 255 });
      const found = await directory.listUsers({
        tenant: query.text('tenant', { max: 100 }) || undefined,
        domain: domain ? asField('domain', () => parseDomain(domain)) : undefined,
        search: query.text('search', { max: 200 }),
        ...page,
      });
      return { total: found.total, ...page, value: found.users.map(shownUser) };
    }),
  );

  app.get(
    '/admin/users/:address',
    route(async (directory, request) => shownUser(await directory.getUser(addressParam(request)))),
  );

  app.post(
    '/admin/users',
    adminRoute(holdfast, async (admin, request, reply) => {
      const body = new Fields(request.body, ['address', 'password', 'name', 'role', 'quota']);
      const address = asField('address', () => parseAddress(body.required('address', 320)).address);
      const input = {
        address,
        password: passwordOf(body, address),
        displayName: body.text('name', { max: 200 }) || undefined,
        role: body.choice('role', roles),
        quotaBytes: quotaOf(body),
      };
      const added = await new DirectoryAdmin(holdfast.directory, admin).addUser(input);
      reply.code(201);
      return {
        ...shownUser(added.user),
        ...(added.generatedPassword && { generatedPassword: added.generatedPassword }),
      };
    }),
  );

  app.patch(
    '/admin/users/:address',
    route(async (directory, request) => {
      const address = addressParam(request);
      const body = new Fields(request.body, ['name', 'role', 'quota', 'disabled']);
      const changes = {
        displayName: body.has('name') ? body.text('name', { max: 200 }) || null : undefined,
        role: body.choice('role', roles),
        quotaBytes: quotaOf(body),
        disabled: body.boolean('disabled'),
      };
      if (Object.values(changes).every((value) => value === undefined))
        throw new FieldError('body', 'give at least one of name, role, quota, disabled');
      if (changes.disabled || changes.role) refuseProbeAccount(address, 'disabling it or changing its role');
      return shownUser(await directory.updateUser(address, changes));
    }),
  );

  app.post(
    '/admin/users/:address/password',
    route(async (directory, request) => {
      const address = addressParam(request);
      const body = new Fields(request.body, ['password']);
      const reset = await directory.resetPassword(address, passwordOf(body, address));
      // Whoever was kept waiting by guesses may sign in with the new password at once (as `holdfast user passwd`).
      await holdfast.logins.unlock(address);
      return {
        ...shownUser(reset.user),
        passwordChanged: true,
        ...(reset.generatedPassword && { generatedPassword: reset.generatedPassword }),
      };
    }),
  );

  // Domains ------------------------------------------------------------------------------------------

  app.get(
    '/admin/domains',
    route(async (directory, request) => {
      const query = new Fields(request.query, ['tenant']);
      const domains = await directory.listDomains(query.text('tenant', { max: 100 }) || undefined);
      return { value: domains.map(({ name, kind, tenant, addresses }) => ({ name, kind, tenant, addresses })) };
    }),
  );

  app.post(
    '/admin/domains',
    adminRoute(holdfast, async (admin, request, reply) => {
      const body = new Fields(request.body, ['name', 'kind', 'tenant']);
      const name = asField('name', () => parseDomain(body.required('name', 255)));
      const kind = body.choice('kind', domainKinds) ?? 'authoritative';
      const tenant = body.text('tenant', { max: 100 }) || undefined;
      const added = await new DirectoryAdmin(holdfast.directory, admin).addDomain(name, kind, tenant);
      reply.code(201);
      return { name: added.name, kind: added.kind, tenant: added.tenant, addresses: added.addresses };
    }),
  );

  app.delete(
    '/admin/domains/:name',
    route(async (directory, request) => ({ removed: await directory.removeDomain(domainParam(request)) })),
  );

  /** A domain's records, once the administrator is known to cover it. */
  const recordsOf = async (directory: DirectoryAdmin, request: FastifyRequest) => {
    const domain = domainParam(request);
    await directory.scopeOfDomain(domain);
    return { domain, ...(await recordsOfDomain(holdfast.config, holdfast.store.db, domain)) };
  };

  app.get(
    '/admin/domains/:name/dns',
    route(async (directory, request) => {
      const { domain, records, upstream } = await recordsOf(directory, request);
      return { domain, continuityUpstream: upstream ?? null, records, zone: zoneText(records).trimStart() };
    }),
  );

  app.get(
    '/admin/domains/:name/dns/check',
    route(async (directory, request) => {
      const { domain, records } = await recordsOf(directory, request);
      // A resolver of its own: a live check must not answer from the cache mail delivery keeps.
      const checks = await checkRecords(createMailDns(holdfast.config.dnsServers), records);
      return { domain, published: checks.every((c) => c.status === 'ok'), records: checks };
    }),
  );
}
