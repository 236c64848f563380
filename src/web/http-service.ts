// The HTTP listeners (plain HTTP and HTTPS). They carry the admin and health API now, and CalDAV,
// JMAP and the web app as those parts arrive.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Holdfast, RunningService } from '../server/holdfast.ts';
import { listen, type ListenerInfo } from '../server/listen.ts';
import { registerHealthRoutes } from './health-routes.ts';

export async function startHttp(holdfast: Holdfast): Promise<RunningService> {
  const { config } = holdfast;
  const apps: FastifyInstance[] = [];
  const listeners: ListenerInfo[] = [];
  try {
    for (const name of ['http', 'https'] as const) {
      const port = config.ports[name];
      if (port === 'off') continue;
      const app = buildApp(holdfast, name === 'https');
      apps.push(app);
      await app.ready();
      const actual = await listen(app.server, name, config.bind, port);
      listeners.push({ name, host: config.bind, port: actual, scheme: name, description: 'health API' });
    }
  } catch (error) {
    await Promise.all(apps.map((app) => app.close()));
    throw error;
  }
  return {
    listeners,
    close: async () => {
      await Promise.all(apps.map((app) => app.close()));
    },
    forceClose: () => apps.forEach((app) => app.server.closeAllConnections()),
  };
}

function buildApp(holdfast: Holdfast, secure: boolean): FastifyInstance {
  const options = {
    loggerInstance: holdfast.logger.child({ component: secure ? 'https' : 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle' as const,
  };
  const app = (secure ? Fastify({ ...options, https: { cert: holdfast.tls.cert, key: holdfast.tls.key } }) : Fastify(options)) as unknown as FastifyInstance;
  registerHealthRoutes(app, holdfast);
  return app;
}
