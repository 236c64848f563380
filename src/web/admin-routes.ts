// The administrative HTTP API (global administrators, HTTP Basic). Queue insight now; the service
// health API joins it.
import type { FastifyInstance } from 'fastify';
import { queueInsight } from '../flow/queue/queue-insight.ts';
import type { Holdfast } from '../server/holdfast.ts';
import { isGlobalAdmin } from './admin-auth.ts';

export function registerAdminRoutes(app: FastifyInstance, holdfast: Holdfast) {
  app.get('/admin/queue/insight', async (request, reply) => {
    if (!(await isGlobalAdmin(holdfast, request.socket.remoteAddress ?? '', request.headers.authorization))) {
      reply.code(401).header('WWW-Authenticate', 'Basic realm="Holdfast admin", charset="UTF-8"');
      return { error: { code: 'unauthorized', message: 'Sign in as a global administrator (HTTP Basic: address and password)' } };
    }
    // Concurrency per destination lives in this node's queue runner, when it runs the queue role.
    return { destinations: await queueInsight(holdfast.store.db, holdfast.now(), holdfast.runner?.destinations.snapshot() ?? []) };
  });
}
