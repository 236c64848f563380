// The administrative HTTP API (global administrators, HTTP Basic). Queue insight now; the service
// health API joins it.
import type { FastifyInstance } from 'fastify';
import { queueInsight } from '../flow/queue/queue-insight.ts';
import type { WebContext } from './web-context.ts';
import { errorCodes, requireGlobalAdmin } from './admin-auth.ts';

export function registerAdminRoutes(app: FastifyInstance, holdfast: WebContext) {
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
}
