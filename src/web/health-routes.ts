// Liveness and readiness for load balancers and orchestrators. The full service-health API
// (components, incidents) builds on these.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { WebContext } from './web-context.ts';
import { version } from '../version.ts';
import { authenticateAdmin, loginRequest } from './admin-auth.ts';

export function registerHealthRoutes(app: FastifyInstance, holdfast: WebContext) {
  // A browser (it asks for HTML) is sent to the web app; anything else gets the service's description.
  app.get('/', async (request, reply) => {
    if (/\btext\/html\b/.test(request.headers.accept ?? '')) return reply.redirect('/mail/', 302);
    return { service: 'holdfast', version, hostname: holdfast.config.hostname };
  });
  app.get('/health/live', async () => ({ status: 'ok' }));

  // Anyone (a load balancer) learns ready or not and which components were checked; the store's
  // latency and error text (which can name database hosts and ports) only a global administrator.
  app.get('/health/ready', async (request, reply) => {
    const started = performance.now();
    let store: { status: 'ok' | 'unavailable'; latencyMs?: number; error?: string };
    try {
      await sql`select 1`.execute(holdfast.store.db);
      store = { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (error) {
      reply.code(503);
      store = { status: 'unavailable', error: (error as Error).message };
    }
    const ready = { status: store.status, store: { status: store.status } };
    if (!request.headers.authorization) return ready;
    const admin = await authenticateAdmin(holdfast, loginRequest(request)).catch(() => undefined);
    return admin?.ok && admin.principal.role === 'global-admin' ? { ...ready, store } : ready;
  });
}
