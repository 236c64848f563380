// Groups, shared mailboxes, rooms and equipment over the admin API (docs/administration.md, "Admin
// API"), as `holdfast group`, `shared` and `resource` do them, within what the administrator covers
// (directory/directory-admin.ts: another tenant's address is 404).
//   GET    /admin/groups                        {total, offset, limit, value: [{…, members}]}
//   POST   /admin/groups                        {address, name?} → 201
//   DELETE /admin/groups/{address}
//   POST   /admin/groups/{address}/members      {member} → {address, members}
//   DELETE /admin/groups/{address}/members/{member}
//   GET    /admin/shared                        {…, value: [{…, grants}]}
//   POST   /admin/shared                        {address, name?, quota?} → 201
//   DELETE /admin/shared/{address}
//   PUT    /admin/shared/{address}/grants/{user}   {fullAccess, sendAs}
//   DELETE /admin/shared/{address}/grants/{user}
//   GET    /admin/resources                     rooms and equipment, each with capacity and booking policy
//   POST   /admin/resources                     {address, kind: room|equipment, name?} → 201
//   PATCH  /admin/resources/{address}           {capacity?, autoAccept?, allowConflicts?, windowDays?,
//                                                maxDurationMinutes?, allowRecurring?, bookInPolicy?, bookers?}
//   DELETE /admin/resources/{address}
//   GET    /admin/aliases[?tenant=]                {value: [{alias, target, tenant}]}
//   POST   /admin/aliases                       {alias, target} → 201
//   DELETE /admin/aliases/{alias}
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DirectoryAdmin, type ListedUser } from '../directory/directory-admin.ts';
import { parseAddress } from '../directory/names.ts';
import type { TenantDirectory } from '../directory/tenant-directory.ts';
import {
  parseBookers,
  parseBookInPolicy,
  parseCapacity,
  parseMaxDuration,
  parseWindowDays,
  parseYesNo,
  ResourceSettingError,
  resourceSettings,
  setResourceSettings,
  type ResourceSettingsChange,
} from '../directory/resource-settings.ts';
import type { Kysely } from 'kysely';
import type { Database, PrincipalKind } from '../store/schema.ts';
import { adminRoute, asField, FieldError, Fields, paging } from './admin-api.ts';
import { quotaOf, shownUser } from './admin-directory-routes.ts';
import type { WebContext } from './web-context.ts';

type MailboxKind = Exclude<PrincipalKind, 'user'>;

/** How each collection is listed and made: its path, its kinds and what a listed entry carries besides. */
const collections: {
  path: string;
  kinds: MailboxKind[];
  extra(scope: TenantDirectory, principal: ListedUser, db: Kysely<Database>): Promise<Record<string, unknown>>;
}[] = [
  { path: 'groups', kinds: ['group'], extra: async (scope, p) => ({ members: await scope.membersOf(p.address) }) },
  { path: 'shared', kinds: ['shared'], extra: async (scope, p) => ({ grants: await scope.listGrants(p.address) }) },
  {
    path: 'resources',
    kinds: ['room', 'equipment'],
    extra: async (_scope, p, db) => ({ kind: p.kind, ...(await resourceSettings(db, p.id)) }),
  },
];

/** The settings fields of a resource request, each read (and refused naming it) before anything changes. */
const settingsFields = [
  'capacity',
  'autoAccept',
  'allowConflicts',
  'windowDays',
  'maxDurationMinutes',
  'allowRecurring',
  'bookInPolicy',
  'bookers',
];

function settingsChange(body: Record<string, unknown>): ResourceSettingsChange {
  const change: ResourceSettingsChange = {};
  const has = (name: string) => body[name] !== undefined;
  try {
    if (has('capacity')) change.capacity = parseCapacity(body.capacity);
    if (has('autoAccept')) change.autoAccept = parseYesNo('autoAccept', body.autoAccept);
    if (has('allowConflicts')) change.allowConflicts = parseYesNo('allowConflicts', body.allowConflicts);
    if (has('windowDays')) change.windowDays = parseWindowDays(body.windowDays);
    if (has('maxDurationMinutes')) change.maxDurationMinutes = parseMaxDuration(body.maxDurationMinutes);
    if (has('allowRecurring')) change.allowRecurring = parseYesNo('allowRecurring', body.allowRecurring);
    if (has('bookInPolicy')) change.bookInPolicy = parseBookInPolicy(body.bookInPolicy);
    if (has('bookers')) change.bookers = parseBookers(body.bookers);
  } catch (error) {
    throw asFieldError(error);
  }
  return change;
}

/** A refused setting as the admin API says it: `invalid-field` naming the field. */
function asFieldError(error: unknown): unknown {
  return error instanceof ResourceSettingError ? new FieldError(error.setting, error.problem) : error;
}

const addressIn = (request: FastifyRequest, name: 'address' | 'member' | 'user' | 'alias') =>
  asField(name, () => parseAddress((request.params as Record<string, string>)[name]!).address);

export function registerAdminMailboxRoutes(app: FastifyInstance, holdfast: WebContext) {
  const directoryOf = (admin: ConstructorParameters<typeof DirectoryAdmin>[1]) =>
    new DirectoryAdmin(holdfast.directory, admin);

  for (const { path, kinds, extra } of collections) {
    app.get(
      `/admin/${path}`,
      adminRoute(holdfast, async (admin, request) => {
        const query = new Fields(request.query, ['tenant', 'search', 'offset', 'limit']);
        const page = paging(query);
        const directory = directoryOf(admin);
        const found = await directory.list(kinds, {
          tenant: query.text('tenant', { max: 100 }) || undefined,
          search: query.text('search', { max: 200 }),
          ...page,
        });
        const value = [];
        for (const p of found.users) {
          const scope = await directory.scopeOfAddress(p.address);
          const { role: _, disabled: __, ...shown } = shownUser(p);
          value.push({ ...shown, ...(await extra(scope, p, holdfast.store.db)) });
        }
        return { total: found.total, ...page, value };
      }),
    );

    app.post(
      `/admin/${path}`,
      adminRoute(holdfast, async (admin, request, reply) => {
        const body = new Fields(request.body, [
          'address',
          'name',
          ...(path === 'shared' ? ['quota'] : []),
          ...(kinds.length > 1 ? ['kind'] : []),
        ]);
        const input = {
          address: asField('address', () => parseAddress(body.required('address', 320)).address),
          displayName: body.text('name', { max: 200 }) || undefined,
          quotaBytes: path === 'shared' ? quotaOf(body) : undefined,
        };
        const kind = kinds.length > 1 ? body.choice('kind', kinds) : kinds[0];
        if (!kind) throw new FieldError('kind', `is required: one of ${kinds.join(', ')}`);
        const directory = directoryOf(admin);
        const added = await directory.addMailbox(kind, input);
        reply.code(201);
        const { role: _, disabled: __, ...shown } = shownUser(added);
        return { ...shown, ...(await extra(await directory.scopeOfAddress(added.address), added, holdfast.store.db)) };
      }),
    );

    app.delete(
      `/admin/${path}/:address`,
      adminRoute(holdfast, async (admin, request) => ({
        removed: await directoryOf(admin).remove(addressIn(request, 'address'), kinds),
      })),
    );
  }

  app.patch(
    '/admin/resources/:address',
    adminRoute(holdfast, async (admin, request) => {
      const address = addressIn(request, 'address');
      const body = new Fields(request.body, settingsFields);
      const change = settingsChange((request.body ?? {}) as Record<string, unknown>);
      if (!settingsFields.some((f) => body.has(f)))
        throw new FieldError('body', `give at least one of ${settingsFields.join(', ')}`);
      const directory = directoryOf(admin);
      const scope = await directory.scopeOfAddress(address);
      const resource = await scope.getPrincipal(address, ['room', 'equipment']);
      const settings = await setResourceSettings(holdfast.store.db, resource, change, holdfast.now()).catch((e) => {
        throw asFieldError(e);
      });
      const {
        role: _,
        disabled: __,
        ...shown
      } = shownUser({ ...resource, tenant: (await directory.tenants()).find((t) => t.id === resource.tenantId)!.name });
      return { ...shown, kind: resource.kind, ...settings };
    }),
  );

  app.get(
    '/admin/aliases',
    adminRoute(holdfast, async (admin, request) => {
      const query = new Fields(request.query, ['tenant']);
      return { value: await directoryOf(admin).listAliases(query.text('tenant', { max: 100 }) || undefined) };
    }),
  );

  app.post(
    '/admin/aliases',
    adminRoute(holdfast, async (admin, request, reply) => {
      const body = new Fields(request.body, ['alias', 'target']);
      const alias = asField('alias', () => parseAddress(body.required('alias', 320)).address);
      const target = asField('target', () => parseAddress(body.required('target', 320)).address);
      const added = await directoryOf(admin).addAlias(alias, target);
      reply.code(201);
      return added;
    }),
  );

  app.delete(
    '/admin/aliases/:alias',
    adminRoute(holdfast, async (admin, request) => {
      return { removed: await directoryOf(admin).removeAlias(addressIn(request, 'alias')) };
    }),
  );

  app.post(
    '/admin/groups/:address/members',
    adminRoute(holdfast, async (admin, request) => {
      const group = addressIn(request, 'address');
      const body = new Fields(request.body, ['member']);
      const member = asField('member', () => parseAddress(body.required('member', 320)).address);
      const scope = await directoryOf(admin).scopeOfAddress(group);
      return { address: group, members: await scope.addGroupMember(group, member) };
    }),
  );

  app.delete(
    '/admin/groups/:address/members/:member',
    adminRoute(holdfast, async (admin, request) => {
      const group = addressIn(request, 'address');
      const scope = await directoryOf(admin).scopeOfAddress(group);
      return { address: group, members: await scope.removeGroupMember(group, addressIn(request, 'member')) };
    }),
  );

  app.put(
    '/admin/shared/:address/grants/:user',
    adminRoute(holdfast, async (admin, request) => {
      const mailbox = addressIn(request, 'address');
      const user = addressIn(request, 'user');
      const body = new Fields(request.body, ['fullAccess', 'sendAs']);
      const rights = { fullAccess: body.boolean('fullAccess') ?? false, sendAs: body.boolean('sendAs') ?? false };
      if (!rights.fullAccess && !rights.sendAs) throw new FieldError('body', 'give fullAccess, sendAs or both as true');
      const scope = await directoryOf(admin).scopeOfAddress(mailbox);
      await scope.getPrincipal(mailbox, ['shared']);
      return scope.grant(mailbox, user, rights);
    }),
  );

  app.delete(
    '/admin/shared/:address/grants/:user',
    adminRoute(holdfast, async (admin, request) => {
      const mailbox = addressIn(request, 'address');
      const user = addressIn(request, 'user');
      const scope = await directoryOf(admin).scopeOfAddress(mailbox);
      await scope.getPrincipal(mailbox, ['shared']);
      await scope.revoke(mailbox, user);
      return { mailbox, grantee: user, revoked: true };
    }),
  );
}
