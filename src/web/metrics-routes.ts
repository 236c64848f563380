// GET /metrics for Prometheus. From the same machine it is open (the usual scraper setup); from
// elsewhere it needs a global administrator's address and password (HTTP Basic), since queue and
// forest labels name tenants and destinations.
import type { FastifyInstance } from 'fastify';
import type { Holdfast } from '../server/holdfast.ts';
import { isLoopbackAddress, parseBasicAuthorization } from '../server/http-credentials.ts';

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

async function isGlobalAdmin(holdfast: Holdfast, client: string, authorization: string | undefined): Promise<boolean> {
  const credentials = parseBasicAuthorization(authorization);
  if (!credentials || holdfast.logins.refusal(client, credentials.user)) return false;
  const principal = await holdfast.directory.authenticate(credentials.user, credentials.password);
  if (!principal) holdfast.logins.record(client, credentials.user);
  return principal?.role === 'global-admin';
}
