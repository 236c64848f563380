// GET /metrics for Prometheus. From the same machine it is open (the usual scraper setup); from
// elsewhere it needs a global administrator's address and password (HTTP Basic), since queue and
// forest labels name tenants and destinations.
import type { FastifyInstance } from 'fastify';
import type { WebContext } from './web-context.ts';
import { isLoopbackAddress } from '../net/http-credentials.ts';
import { requireGlobalAdmin } from './admin-auth.ts';

export function registerMetricsRoutes(app: FastifyInstance, holdfast: WebContext) {
  app.get('/metrics', async (request, reply) => {
    const client = request.ip ?? ''; // behind a trusted proxy, the client's own address
    const body = (status: number, message: string) =>
      status === 401
        ? 'Metrics are open from this machine; from elsewhere sign in as a global administrator\n'
        : `${message}\n`;
    if (
      !isLoopbackAddress(client) &&
      !(await requireGlobalAdmin(holdfast, request, reply, { realm: 'Holdfast metrics', body }))
    )
      return reply;
    reply.header('Content-Type', holdfast.metrics.registry.contentType);
    return holdfast.metrics.registry.metrics();
  });
}
