// The administrative HTTP API (docs/administration.md, "Admin API"): queue insight (global
// administrators), users and domains (admin-directory-routes.ts), groups, shared mailboxes, rooms
// and equipment (admin-mailbox-routes.ts), continuity status (admin-continuity-routes.ts), the queue
// and message trace (admin-queue-routes.ts), tenants and resource forests (admin-tenant-routes.ts), and the admin center's page at /admin/ that uses them.
// The quarantine and service health have their own files, registered beside this one.
import type { FastifyInstance } from 'fastify';
import type { MailFlow } from '../flow/mail-flow.ts';
import { queueInsight } from '../flow/queue/queue-insight.ts';
import type { WebContext } from './web-context.ts';
import { errorCodes, requireGlobalAdmin } from './admin-auth.ts';
import { registerAdminCenterRoutes } from './admin-center-routes.ts';
import { registerAdminContinuityRoutes } from './admin-continuity-routes.ts';
import { registerAdminDirectoryRoutes } from './admin-directory-routes.ts';
import { registerAdminMailboxRoutes } from './admin-mailbox-routes.ts';
import { registerAdminQueueRoutes } from './admin-queue-routes.ts';
import { registerAdminTenantRoutes } from './admin-tenant-routes.ts';

/** What the admin API reads besides the web context: the queue. */
export type AdminApiContext = WebContext & { flow: Pick<MailFlow, 'queue' | 'newMail'> };

export function registerAdminRoutes(app: FastifyInstance, holdfast: AdminApiContext) {
  app.get('/admin/queue/insight', async (request, reply) => {
    if (
      !(await requireGlobalAdmin(holdfast, request, reply, {
        realm: 'Holdfast admin',
        body: (status, message) => ({
          error: {
            code: errorCodes[status],
            message: status === 401 ? `${message} (a global administrator: HTTP Basic or an API token)` : message,
          },
        }),
      }))
    )
      return reply;
    // Concurrency per destination lives in this node's queue runner, when it runs the queue role.
    return { destinations: await queueInsight(holdfast.store.db, holdfast.now(), holdfast.destinations.snapshot()) };
  });
  registerAdminDirectoryRoutes(app, holdfast);
  registerAdminMailboxRoutes(app, holdfast);
  registerAdminContinuityRoutes(app, holdfast);
  registerAdminQueueRoutes(app, holdfast);
  registerAdminTenantRoutes(app, holdfast);
  registerAdminCenterRoutes(app);
}
