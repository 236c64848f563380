// The HTTP listeners (plain HTTP and HTTPS): CalDAV, the admin and health API, JMAP and the web app
// (/mail/).
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Holdfast, RunningService } from './holdfast.ts';
import { listen, type ListenerInfo } from '../net/listen.ts';
import { registerClientSetupRoutes } from '../web/client-setup-routes.ts';
import { registerHealthRoutes } from '../web/health-routes.ts';
import { registerMetricsRoutes } from '../web/metrics-routes.ts';
import { registerAdminFallbacks } from '../web/admin-fallbacks.ts';
import { registerAdminRoutes } from '../web/admin-routes.ts';
import { registerQuarantineRoutes } from '../web/quarantine-routes.ts';
import { registerServiceHealthRoutes } from '../web/service-health-routes.ts';
import { limitPipelining } from '../web/pipelining-limit.ts';
import { registerStatusPage } from '../web/status-page.ts';
import { addDavMethods, registerDavRoutes } from '../protocols/dav/dav-routes.ts';
import { DavAuthenticator } from '../protocols/dav/dav-auth.ts';
import { registerJmapRoutes } from '../protocols/jmap/jmap-routes.ts';
import { registerWebmailRoutes } from '../web/webmail-routes.ts';
import { junkLearner } from '../filtering/junk-learning.ts';
import type { MessageDeps } from '../mailbox/messages.ts';

export async function startHttp(holdfast: Holdfast): Promise<RunningService> {
  const { config } = holdfast;
  const apps: FastifyInstance[] = [];
  const listeners: ListenerInfo[] = [];
  // One authenticator for both listeners.
  const authenticator = new DavAuthenticator(holdfast.directory, holdfast.logins, {
    plaintextLogin: config.http.plaintextLogin,
    httpsPort: config.ports.https,
  });
  // Moves into and out of Junk made through JMAP (and the web app) teach the spam filter, as IMAP's do.
  const junkCopied = junkLearner(config.filtering, holdfast.store.blobs, holdfast.logger)?.copied;
  try {
    for (const name of ['http', 'https'] as const) {
      const port = config.ports[name];
      if (port === 'off') continue;
      const app = buildApp(holdfast, name === 'https', authenticator, junkCopied);
      apps.push(app);
      await app.ready();
      const actual = await listen(app.server, name, config.bind, port);
      listeners.push({
        name,
        host: config.bind,
        port: actual,
        scheme: name,
        description: 'web app /mail/, admin center /admin/, JMAP, CalDAV, CardDAV, API, metrics',
      });
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

function buildApp(
  holdfast: Holdfast,
  secure: boolean,
  authenticator: DavAuthenticator,
  junkCopied: MessageDeps['copied'],
): FastifyInstance {
  const options = {
    loggerInstance: holdfast.logger.child({ component: secure ? 'https' : 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle' as const,
    // request.ip and request.protocol follow X-Forwarded-For/-Proto only from these ([http] trusted_proxies).
    trustProxy: holdfast.config.http.trustedProxies.length ? holdfast.config.http.trustedProxies : false,
  };
  const app = (secure
    ? Fastify({ ...options, https: { cert: holdfast.tls.cert, key: holdfast.tls.key } })
    : Fastify(options)) as unknown as FastifyInstance;
  limitPipelining(app.server);
  addDavMethods(app);
  registerAdminFallbacks(app);
  registerHealthRoutes(app, holdfast);
  registerClientSetupRoutes(app, holdfast);
  registerMetricsRoutes(app, holdfast);
  registerAdminRoutes(app, holdfast);
  registerQuarantineRoutes(app, holdfast);
  registerServiceHealthRoutes(app, holdfast);
  registerStatusPage(app, holdfast);
  registerDavRoutes(app, holdfast, secure, authenticator);
  registerJmapRoutes(app, holdfast, secure, authenticator, junkCopied);
  registerWebmailRoutes(app, holdfast, secure, authenticator);
  return app;
}
