// Tenants and resource forests over the admin API (docs/administration.md, "Admin API"), as
// `holdfast tenant` and `holdfast forest` do them (the same Directory functions). Global
// administrators only: a tenant administrator is 403, as for continuity, since the answers cover
// every tenant.
//   GET   /admin/tenants            {value: [{name, forest, domains, users}]}, by name
//   POST  /admin/tenants            {name, forest?} → 201, the tenant
//   PATCH /admin/tenants/{name}     {forest} → the tenant, moved into that forest
//   GET   /admin/forests            {value: [{name, maxConnections, tenants}]}, by name
import type { FastifyInstance } from 'fastify';
import { requireTenantForest, type Directory, type Tenant } from '../directory/directory.ts';
import { forbidden, HoldfastError } from '../errors.ts';
import { adminRoute, FieldError, Fields } from './admin-api.ts';
import type { AdminIdentity } from './admin-auth.ts';
import type { WebContext } from './web-context.ts';

function requireGlobal(admin: AdminIdentity) {
  if (admin.role !== 'global-admin')
    throw forbidden('forbidden', `${admin.address} is a tenant administrator; this needs a global administrator`);
}

/** Runs `work`; bad input or an unknown name it refuses becomes a refusal of `field` (400). */
async function asFieldOf<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (
      error instanceof HoldfastError &&
      (error.kind === 'invalid' || error.kind === 'not-found') &&
      !(error instanceof FieldError)
    )
      throw new FieldError(field, error.message);
    throw error;
  }
}

/** A tenant as the API shows it: its forest and how many domains and users it has. */
async function shownTenant(directory: Directory, tenant: Tenant) {
  const scope = await directory.tenant(tenant.name);
  return {
    name: tenant.name,
    forest: tenant.forest,
    domains: (await scope.listDomains()).length,
    users: (await scope.listPrincipals(['user'])).length,
  };
}

export function registerAdminTenantRoutes(app: FastifyInstance, holdfast: WebContext) {
  const { directory } = holdfast;

  app.get(
    '/admin/tenants',
    adminRoute(holdfast, async (admin, request) => {
      new Fields(request.query, []);
      requireGlobal(admin);
      const value = [];
      for (const tenant of await directory.listTenants()) value.push(await shownTenant(directory, tenant));
      return { value };
    }),
  );

  app.post(
    '/admin/tenants',
    adminRoute(holdfast, async (admin, request, reply) => {
      requireGlobal(admin);
      const body = new Fields(request.body, ['name', 'forest']);
      const name = body.required('name', 100);
      const forest = body.text('forest', { max: 100 }) || undefined;
      if (forest)
        await asFieldOf('forest', async () => requireTenantForest(name, (await directory.getForest(forest)).name));
      const added = await asFieldOf('name', () => directory.addTenant({ name, forest }));
      reply.code(201);
      return shownTenant(directory, added);
    }),
  );

  app.patch(
    '/admin/tenants/:name',
    adminRoute(holdfast, async (admin, request) => {
      requireGlobal(admin);
      const body = new Fields(request.body, ['forest']);
      const forest = body.required('forest', 100);
      const tenant = await directory.getTenant((request.params as { name: string }).name);
      await asFieldOf('forest', async () => requireTenantForest(tenant.name, (await directory.getForest(forest)).name));
      return shownTenant(directory, await directory.moveTenant(tenant.name, forest));
    }),
  );

  app.get(
    '/admin/forests',
    adminRoute(holdfast, async (admin, request) => {
      new Fields(request.query, []);
      requireGlobal(admin);
      const forests = await directory.listForests();
      return { value: forests.map((f) => ({ name: f.name, maxConnections: f.maxConnections, tenants: f.tenants })) };
    }),
  );
}
