// Continuity status over the admin API (docs/administration.md, "Admin API"; docs/continuity.md):
// each configured upstream's state (normal, active, recovering), its open or last event, how much
// mail was held and replayed and what waits, as `holdfast continuity status` says. Global
// administrators only: an upstream's figures cover every tenant whose domains it serves.
//   GET /admin/continuity   {value: [status…]}, times in ISO 8601
import type { FastifyInstance } from 'fastify';
import { continuityStatus } from '../continuity/continuity-status.ts';
import { forbidden } from '../errors.ts';
import { adminRoute, Fields } from './admin-api.ts';
import type { WebContext } from './web-context.ts';

/** Epoch-millisecond fields (`…At`, `since`, `…Since`) of an answer as ISO 8601, at any depth. */
function isoTimes(value: unknown, key = ''): unknown {
  if (typeof value === 'number' && /(At|^since|Since)$/.test(key)) return new Date(value).toISOString();
  if (Array.isArray(value)) return value.map((v) => isoTimes(v));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isoTimes(v, k)]));
  return value;
}

export function registerAdminContinuityRoutes(app: FastifyInstance, holdfast: WebContext) {
  app.get(
    '/admin/continuity',
    adminRoute(holdfast, async (admin, request) => {
      new Fields(request.query, []);
      if (admin.role !== 'global-admin')
        throw forbidden('forbidden', `${admin.address} is a tenant administrator; this needs a global administrator`);
      const { db, dialect } = holdfast.store;
      const statuses = await continuityStatus(db, dialect, holdfast.config.continuity, holdfast.now());
      return { value: statuses.map((s) => isoTimes(s)) };
    }),
  );
}
