// The web app at /mail/ (docs/webmail.md): the files `npm run build` makes from webapp/ into
// dist/webapp/, the frame a message is shown in, and signing in and out. Signing in checks the
// password through the HTTP listeners' authenticator (the one JMAP and CalDAV use: the cache of
// verified sign-ins, the login limiter, no password over plain HTTP from another machine) and starts
// a session (directory/web-sessions.ts) whose cookie JMAP accepts; the app then calls /jmap/api/
// directly. Settings JMAP has no method for (password, app tokens, sessions) are in
// webmail-settings-routes.ts; what the calendar needs besides CalDAV in webmail-calendar-routes.ts.
//
// Headers: every page gets a strict Content-Security-Policy (scripts and styles only from the
// app's own files, no inline script, frames only from /mail/), nosniff, no Referer, no framing by
// other sites. Hashed assets are cached for a year, index.html is revalidated at every load; text
// files go compressed (brotli or gzip) to browsers that accept it (compressed-files.ts).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  cookieValue,
  webSessionCookieName,
  webSessionRequest,
  WebSessions,
  webSessionLimits,
} from '../directory/web-sessions.ts';
import { inInstallation } from '../installation-root.ts';
import type { HttpLoginRequest, HttpLoginResult } from '../net/http-credentials.ts';
import { CompressedCopies, isCompressible, preferredEncoding } from './compressed-files.ts';
import type { WebContext } from './web-context.ts';
import { registerWebmailCalendarRoutes } from './webmail-calendar-routes.ts';
import { jsonAnswer as json } from './webmail-answers.ts';
import { registerWebmailSettingsRoutes } from './webmail-settings-routes.ts';

/** Checks an address and password: the listeners' authenticator (Basic credentials, login limiter). */
export interface PasswordCheck {
  authenticate(request: HttpLoginRequest): Promise<HttpLoginResult>;
}

/** Where the built app is: dist/webapp/ at the top of the installation. */
export const webappDir = `${inInstallation('dist', 'webapp')}/`;

/** The app's pages: its own scripts and styles, JMAP on this origin, message frames from /mail/frame.html. */
export const appContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The frame a message is shown in. It is sandboxed (no scripts, an iframe's own `sandbox` attribute
 * says the same) and the app writes the sanitised message into it; its own policy allows the
 * message's inline styles and, only when the user asked for them (`?images=remote`), remote
 * images. No script runs in it whatever the message holds.
 */
export function frameContentSecurityPolicy(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    `img-src 'self' data:${remoteImages ? ' https: http:' : ''}`,
    "font-src 'self' data:",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    'sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox',
  ].join('; ');
}

const frameHtml =
  '<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
  '<title>Message</title></head><body></body></html>';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  type: string;
  /** Under assets/: the name carries a hash of the content. */
  immutable: boolean;
  /** Brotli and gzip copies, for the files worth compressing. */
  compressed?: CompressedCopies;
}

/** The built files, read once (the app is a few hundred kilobytes). */
function readBuiltFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const key = relative(dir, path).split(sep).join('/');
        const body = readFileSync(path);
        const type = contentTypes[extname(name)] ?? 'application/octet-stream';
        files.set(key, {
          body,
          type,
          immutable: key.startsWith('assets/'),
          compressed: isCompressible(type, body.length) ? new CompressedCopies(body) : undefined,
        });
      }
    }
  };
  walk(dir);
  return files;
}

const securityHeaders = (reply: FastifyReply, policy: string) =>
  reply
    .header('Content-Security-Policy', policy)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('Cross-Origin-Opener-Policy', 'same-origin')
    .header('Cross-Origin-Resource-Policy', 'same-origin');

export function registerWebmailRoutes(
  app: FastifyInstance,
  holdfast: WebContext,
  secure: boolean,
  passwords: PasswordCheck,
  options: { dir?: string } = {},
) {
  const dir = options.dir ?? webappDir;
  let files: Map<string, StaticFile> | undefined;
  const builtFiles = () => {
    // Read at the first request (a test builds the app after the server started), then kept.
    if (!files?.size) {
      files = readBuiltFiles(dir);
      // Every compressed copy is started now, on the thread pool, so the page's other files are
      // ready compressed by the time the browser asks for them.
      for (const file of files.values()) void file.compressed?.ready();
    }
    return files;
  };
  // A built app is read, and its compression started, at start: the first visitor gets it compressed.
  if (existsSync(join(dir, 'index.html'))) builtFiles();
  const sessions = new WebSessions(holdfast.store.db, holdfast.now);
  const isSecure = (request: FastifyRequest) => secure || request.protocol === 'https';

  const sendFile = (reply: FastifyReply, key: string, acceptEncoding?: string) => {
    const file = builtFiles().get(key);
    if (!file) {
      if (key === 'index.html')
        return securityHeaders(reply.code(503), appContentSecurityPolicy)
          .type('text/plain; charset=utf-8')
          .send('The web app is not built: run "npm run build" in the Holdfast directory\n');
      return securityHeaders(reply.code(404), appContentSecurityPolicy)
        .type('text/plain; charset=utf-8')
        .send('Not found\n');
    }
    securityHeaders(reply, appContentSecurityPolicy)
      .header('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(file.type);
    if (!file.compressed) return reply.send(file.body);
    reply.header('Vary', 'Accept-Encoding');
    const encoding = preferredEncoding(acceptEncoding);
    const copy = encoding && file.compressed.get(encoding);
    return copy ? reply.header('Content-Encoding', encoding).send(copy) : reply.send(file.body);
  };

  app.get('/mail', (_request, reply) => reply.redirect('/mail/'));
  app.get('/mail/', (request, reply) => sendFile(reply, 'index.html', request.headers['accept-encoding']));
  app.get('/mail/frame.html', (request, reply) => {
    const remote = (request.query as { images?: string }).images === 'remote';
    return securityHeaders(reply, frameContentSecurityPolicy(remote))
      .header('Cache-Control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(frameHtml);
  });
  app.get('/mail/*', (request, reply) => {
    const key = decodeURIComponent((request.params as { '*': string })['*']);
    if (key.split('/').some((part) => part === '..' || part === '')) return sendFile(reply, '');
    return sendFile(reply, key, request.headers['accept-encoding']);
  });

  /** The answer of the session routes: who is signed in and the CSRF token for changing requests. */
  const sessionAnswer = (principal: { address: string; displayName: string | null }, csrfToken: string) => ({
    address: principal.address,
    name: principal.displayName,
    csrfToken,
  });
  const cookie = (request: FastifyRequest, value: string, maxAgeSeconds: number) =>
    [
      `${webSessionCookieName(isSecure(request))}=${value}`,
      'Path=/',
      `Max-Age=${maxAgeSeconds}`,
      'HttpOnly',
      'SameSite=Strict',
      ...(isSecure(request) ? ['Secure'] : []),
    ].join('; ');

  app.post('/mail/api/login', async (request, reply) => {
    // A form of another site cannot post JSON without a preflight; an Origin, when sent, must be ours.
    const own = webSessionRequest(request, isSecure(request));
    if (own.origin !== undefined && own.origin !== own.ownOrigin)
      return json(reply, 403, { error: 'forbidden', message: `Sign-in from ${own.origin} is not allowed` });
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json'))
      return json(reply, 415, { error: 'unsupported-media-type', message: 'Send the sign-in as JSON' });
    const body = (request.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof body.username !== 'string' || typeof body.password !== 'string' || !body.username || !body.password)
      return json(reply, 400, { error: 'invalid', message: 'Give your email address and password' });
    const result = await passwords.authenticate({
      authorization: `Basic ${Buffer.from(`${body.username}:${body.password}`).toString('base64')}`,
      remoteAddress: request.ip ?? 'unknown',
      secure: isSecure(request),
    });
    if (!result.ok) {
      if (result.retryAfterSeconds) reply.header('Retry-After', String(result.retryAfterSeconds));
      return json(reply, result.status, { error: 'refused', message: result.message });
    }
    if (result.principal.kind === 'group')
      return json(reply, 403, { error: 'forbidden', message: `${result.principal.address} is a group` });
    const started = await sessions.create(result.principal, {
      remoteAddress: request.ip ?? 'unknown',
      userAgent: String(request.headers['user-agent'] ?? ''),
    });
    reply.header('Set-Cookie', cookie(request, started.id, Math.floor(webSessionLimits.maxAgeMs / 1000)));
    return json(reply, 200, sessionAnswer(result.principal, started.csrfToken));
  });

  app.get('/mail/api/session', async (request, reply) => {
    const found = await sessions.check(webSessionRequest(request, isSecure(request)));
    if (!found) return json(reply, 401, { error: 'unauthorized', message: 'Not signed in' });
    if (!found.ok) return json(reply, found.status, { error: 'unauthorized', message: found.message });
    return json(reply, 200, sessionAnswer(found.principal, found.csrfToken));
  });

  app.post('/mail/api/logout', async (request, reply) => {
    const check = await sessions.check(webSessionRequest(request, isSecure(request)));
    if (check && !check.ok && check.status === 403)
      return json(reply, 403, { error: 'forbidden', message: check.message });
    const id = cookieValue(request.headers.cookie, webSessionCookieName(isSecure(request)));
    if (id) await sessions.destroy(id);
    reply.header('Set-Cookie', cookie(request, '', 0));
    return json(reply, 200, { signedOut: true });
  });

  registerWebmailSettingsRoutes(app, { holdfast, sessions, isSecure, passwords });
  registerWebmailCalendarRoutes(app, { holdfast, sessions, isSecure });
}
