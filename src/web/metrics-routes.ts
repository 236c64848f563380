// GET /metrics for Prometheus. From the same machine it is open (the usual scraper setup); from
// elsewhere it needs a global administrator's address and password (HTTP Basic), since queue and
// forest labels name tenants and destinations.
import type { FastifyInstance } from 'fastify';
import type { Holdfast } from '../server/holdfast.ts';
import { isLoopbackAddress } from '../server/http-credentials.ts';
import { isGlobalAdmin } from './admin-auth.ts';

export function registerMetricsRoutes(app: FastifyInstance, holdfast: Holdfast) {
  app.get('/metrics', async (request, reply) => {
    const client = request.socket.remoteAddress ?? '';
    if (!isLoopbackAddress(client) && !(await isGlobalAdmin(holdfast, client, request.headers.authorization))) {
      reply.code(401).header('WWW-Authenticate', 'Basic realm="Holdfast metrics", charset="UTF-8"');
      return 'Metrics are open from this machine; from elsewhere sign in as a global administrator\n';
    }
    reply.header('Content-Type', holdfast.metrics.registry.contentType);
    return holdfast.metrics.registry.metrics();
  });
}
