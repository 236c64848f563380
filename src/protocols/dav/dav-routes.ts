// Mounts CalDAV and CardDAV on the HTTP listeners: `/.well-known/caldav` and `/.well-known/carddav`
// (RFC 6764 discovery), `/dav/...`, and
// the WebDAV methods on `/`, since some clients start their discovery there.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import type { Scheduler } from '../../calendar/scheduling/scheduler.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../store/store.ts';
import { webSessionRequest } from '../../directory/web-sessions.ts';
import { type DavAuthenticator, withDavWebSessions } from './dav-auth.ts';
import { davCompliance, davMethods, handleDav, storeUnavailableReply } from './dav-handler.ts';
import type { DavReply } from './dav-reply.ts';
import { davRoot } from './dav-resources.ts';

const methodsWithBody = ['PROPFIND', 'PROPPATCH', 'MKCALENDAR', 'MKCOL', 'REPORT'];

/**
 * WebDAV methods (RFC 4918) Holdfast does not serve: answered 405 with the methods it does, so a
 * client that tries to MOVE an event falls back to PUT and DELETE instead of taking it for missing.
 */
const unservedDavMethods = ['COPY', 'MOVE', 'LOCK', 'UNLOCK'];

/** Adds the WebDAV methods to a Fastify instance; call once, before any route is registered. */
export function addDavMethods(app: FastifyInstance) {
  for (const method of methodsWithBody) app.addHttpMethod(method, { hasBody: true });
  for (const method of unservedDavMethods) app.addHttpMethod(method, { hasBody: method === 'LOCK' });
}

/** What CalDAV reads from the running server. */
export interface DavRoutesContext {
  config: Config;
  store: Store;
  logger: Logger;
  scheduler: Scheduler;
  metrics: Metrics;
  now(): number;
}

export function registerDavRoutes(
  app: FastifyInstance,
  holdfast: DavRoutesContext,
  secure: boolean,
  authenticator: DavAuthenticator,
) {
  const { config } = holdfast;
  const log = holdfast.logger.child({ component: 'caldav' });
  const bodyLimit = Math.max(config.caldav.maxResourceSize, 1_000_000) + 64_000;
  // Basic, or the web app's session cookie with its CSRF header (docs/webmail.md).
  const signIn = withDavWebSessions(authenticator, holdfast);

  app.register(async (scope) => {
    // Calendar data and WebDAV XML are read as text, whatever the client calls them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
      // Signing in could not read the store (a database failover).
      if (isStoreUnavailable(error)) {
        log.warn({ err: error }, 'caldav: store unavailable');
        return send(reply, storeUnavailableReply());
      }
      const tooLarge = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      const status = tooLarge ? 413 : (error.statusCode ?? 500);
      if (status >= 500) log.error({ err: error }, 'caldav: request failed');
      reply
        .code(status)
        .type('text/plain; charset=utf-8')
        .send(
          tooLarge
            ? `The request body is larger than ${bodyLimit} bytes ([caldav] max_resource_size is ${config.caldav.maxResourceSize})`
            : error.message,
        );
    });

    const wellKnown = async (_request: FastifyRequest, reply: FastifyReply) =>
      reply.code(301).header('Location', davRoot).send();
    for (const url of ['/.well-known/caldav', '/.well-known/carddav'])
      scope.route({ method: ['GET', 'HEAD', 'PROPFIND', 'OPTIONS'], url, handler: wellKnown });

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = new URL(request.url, 'http://placeholder').pathname;
      if (request.method === 'OPTIONS') return send(reply, { status: 200, headers: { Allow: davMethods.join(', ') } });
      const auth = await signIn.authenticate({
        authorization: request.headers.authorization,
        remoteAddress: request.ip ?? 'unknown', // behind a trusted proxy, the client's own address
        secure: secure || request.protocol === 'https',
        webSession: webSessionRequest(request, secure || request.protocol === 'https'),
      });
      if (!auth.ok) {
        const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
        if (auth.status === 401 && !auth.fromWebSession)
          headers['WWW-Authenticate'] = 'Basic realm="Holdfast", charset="UTF-8"';
        if (auth.retryAfterSeconds) headers['Retry-After'] = String(auth.retryAfterSeconds);
        return send(reply, { status: auth.status, headers, body: `${auth.message}\n` });
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
      );
      const preferMinimal =
        /\breturn=minimal\b/i.test(headers.prefer ?? '') || headers.brief?.trim().toLowerCase() === 't';
      const result = await handleDav(
        {
          db: holdfast.store.db,
          viewer: auth.principal,
          now: holdfast.now,
          maxResourceSize: config.caldav.maxResourceSize,
          preferMinimal,
          scheduler: holdfast.scheduler,
          log,
        },
        { method: request.method, path, headers, body: typeof request.body === 'string' ? request.body : '' },
      );
      if (preferMinimal && result.status === 207)
        result.headers = { ...result.headers, 'Preference-Applied': 'return=minimal' };
      holdfast.metrics.caldavRequests.inc({ method: request.method, status: String(result.status) });
      return send(reply, result);
    };
    scope.route({ method: [...davMethods], url: '/dav', handler });
    scope.route({ method: [...davMethods], url: '/dav/*', handler });
    const notServed = async (request: FastifyRequest, reply: FastifyReply) =>
      send(reply, {
        status: 405,
        headers: { Allow: davMethods.join(', '), 'Content-Type': 'text/plain; charset=utf-8' },
        body: `${request.method} is not supported here; the methods are ${davMethods.join(', ')}\n`,
      });
    for (const url of ['/dav', '/dav/*']) scope.route({ method: unservedDavMethods, url, handler: notServed });
    // `/` itself answers GET with the service description (health routes); the WebDAV methods here.
    scope.route({ method: davMethods.filter((m) => m !== 'GET' && m !== 'HEAD'), url: '/', handler });
  });
}

function send(reply: FastifyReply, result: DavReply) {
  reply.code(result.status).headers({ DAV: davCompliance, ...result.headers });
  return reply.send(result.body ?? '');
}
