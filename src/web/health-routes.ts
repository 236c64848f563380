// Liveness and readiness for load balancers and orchestrators. The full service-health API
// (components, incidents) builds on these.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Holdfast } from '../server/holdfast.ts';
import { version } from '../version.ts';

export function registerHealthRoutes(app: FastifyInstance, holdfast: Holdfast) {
  app.get('/', async () => ({ service: 'holdfast', version, hostname: holdfast.config.hostname }));

  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (_request, reply) => {
    const started = performance.now();
    try {
      await sql`select 1`.execute(holdfast.store.db);
      return { status: 'ok', store: { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 } };
    } catch (error) {
      reply.code(503);
      return { status: 'unavailable', store: { status: 'unavailable', error: (error as Error).message } };
    }
  });
}
