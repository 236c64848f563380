// Mounts JMAP on the HTTP listeners: the session resource at `/.well-known/jmap` (and
// `/jmap/session`), the API endpoint, and blob download. Signing in is HTTP Basic with the accounts,
// TLS rule ([http] plaintext_login) and login limiter of CalDAV and mail; every request is bounded
// in size, in method calls and in requests running at once per account.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../directory/directory.ts';
import type { FolderIndex } from '../../mailbox/folder-index.ts';
import type { ChangeFeed } from '../../mailbox/change-feed.ts';
import { type MessageDeps, messageDeps } from '../../mailbox/messages.ts';
import type { Logger } from '../../logging/logger.ts';
import type { HttpLoginRequest, HttpLoginResult } from '../../net/http-credentials.ts';
import type { Store } from '../../store/store.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { JmapRequestError } from './jmap-errors.ts';
import { jmapLimits } from './jmap-limits.ts';
import { jmapCapabilities, jmapMethods } from './jmap-methods.ts';
import { parseApiRequest, runApiRequest } from './jmap-request.ts';
import { jmapPaths, sessionResource, webSocketCapability } from './jmap-session.ts';
import { pushHubFor } from './jmap-push.ts';
import { registerEventSource } from './jmap-push-eventsource.ts';
import { registerWebSocket, registerWebSocketPlugin } from './jmap-websocket.ts';
import { sendDownload } from './blob-download.ts';
import { accountContext, sharedAccountsOf } from './jmap-accounts.ts';
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { MailFlow } from '../../flow/mail-flow.ts';
import { withAppTokens, withWebSessions } from './jmap-auth.ts';
import { webSessionRequest } from '../../directory/web-sessions.ts';
import { registerTokenRoutes } from './token-routes.ts';
import { registerUploadRoute } from './jmap-uploads.ts';

/** What JMAP reads of the running server. */
export interface JmapRoutesContext {
  store: Store;
  logger: Logger;
  changes: ChangeFeed;
  folderIndex: FolderIndex;
  /** Bearer app tokens and the sending methods (Identity, EmailSubmission): jmap-auth.ts, flow/local-submission.ts. */
  config: Config;
  directory: Directory;
  logins: LoginLimiter;
  flow: MailFlow;
  now(): number;
}

/** Signs in a request (the HTTP listeners share one, with its cache of verified sign-ins). */
export interface JmapAuthenticator {
  authenticate(request: HttpLoginRequest): Promise<HttpLoginResult>;
}

const problemType = 'application/problem+json; charset=utf-8';

export function registerJmapRoutes(
  app: FastifyInstance,
  holdfast: JmapRoutesContext,
  secure: boolean,
  authenticator: JmapAuthenticator,
  /** Told of messages copied or moved between folders (the spam filter learns from moves into and out of Junk). */
  copied?: MessageDeps['copied'],
) {
  const log = holdfast.logger.child({ component: 'jmap' });
  const mail = {
    ...messageDeps({
      store: holdfast.store,
      changes: holdfast.changes,
      folderIndex: holdfast.folderIndex,
      now: holdfast.now,
    }),
    copied,
  };
  /** What a request's `using` may name: the methods' capabilities and WebSocket (advertised in the session). */
  const requestCapabilities = new Set([...jmapCapabilities, webSocketCapability]);
  /** Requests running per principal on this node. */
  const running = new Map<number, number>();

  const problem = (reply: FastifyReply, status: number, body: Record<string, unknown>) =>
    reply.code(status).type(problemType).send(body);

  /** The signed-in principal, or undefined once the refusal is sent. */
  const tokenOrPassword = withWebSessions(
    withAppTokens(authenticator, {
      store: holdfast.store,
      directory: holdfast.directory,
      logins: holdfast.logins,
      policy: { plaintextLogin: holdfast.config.http.plaintextLogin, httpsPort: holdfast.config.ports.https },
      now: holdfast.now,
    }),
    holdfast,
  );
  /** Sending through Identity and EmailSubmission, from this request's client. */
  const sendingFor = (request: FastifyRequest): JmapCallContext['sending'] => ({
    deps: holdfast,
    client: {
      ip: request.ip ?? 'unknown',
      protocol: secure || request.protocol === 'https' ? 'HTTPS' : 'HTTP',
      via: 'JMAP',
    },
  });
  /** Uploads (and messages made over JMAP) are held to the server's message size limit. */
  const maxSizeUpload = holdfast.config.smtp.maxMessageSize;
  /** What a method call runs with, over HTTP and over WebSocket alike. */
  const callContext = (principal: Principal, request: FastifyRequest): JmapCallContext => ({
    principal,
    mail,
    log,
    sending: sendingFor(request),
    maxSizeUpload,
  });
  const signIn = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> => {
    const auth = await tokenOrPassword.authenticate({
      authorization: request.headers.authorization,
      remoteAddress: request.ip ?? 'unknown',
      secure: secure || request.protocol === 'https',
      // The web app's session cookie (docs/webmail.md), when there is no Authorization header.
      webSession: webSessionRequest(request, secure || request.protocol === 'https'),
    });
    if (auth.ok) return auth.principal;
    if (auth.status === 401 && !auth.fromWebSession)
      reply.header('WWW-Authenticate', ['Basic realm="Holdfast", charset="UTF-8"', 'Bearer realm="Holdfast"']);
    if (auth.retryAfterSeconds) reply.header('Retry-After', String(auth.retryAfterSeconds));
    problem(reply, auth.status, { type: 'about:blank', status: auth.status, detail: auth.message });
    return undefined;
  };

  const baseUrl = (request: FastifyRequest) =>
    `${secure || request.protocol === 'https' ? 'https' : 'http'}://${request.headers.host ?? request.hostname}`;
  const sessionOf = async (principal: Principal, request: FastifyRequest) =>
    sessionResource(
      principal,
      baseUrl(request),
      jmapCapabilities,
      { maxSizeUpload },
      await sharedAccountsOf(holdfast.store.db, principal),
    );

  registerWebSocketPlugin(app);
  app.register(async (scope) => {
    // The API body is read as text (a client may call it anything) and parsed here, so that a body
    // that is not JSON is answered as JMAP says (notJSON), not by Fastify.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: jmapLimits.maxSizeRequest },
      (_request, body, done) => done(null, body),
    );
    scope.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return problem(
          reply,
          400,
          new JmapRequestError(
            400,
            'limit',
            `The request is larger than ${jmapLimits.maxSizeRequest} bytes`,
            'maxSizeRequest',
          ).problem(),
        );
      if (isStoreUnavailable(error)) {
        log.warn({ err: error }, 'jmap: store unavailable');
        reply.header('Retry-After', '5');
        return problem(reply, 503, { type: 'about:blank', status: 503, detail: 'The store is unavailable; try again' });
      }
      const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
      if (status >= 500) log.error({ err: error }, 'jmap: request failed');
      return problem(reply, status, {
        type: 'about:blank',
        status,
        detail: status >= 500 ? 'Server error' : error.message,
      });
    });

    const session = async (request: FastifyRequest, reply: FastifyReply) => {
      const principal = await signIn(request, reply);
      if (!principal) return reply;
      return reply
        .header('Cache-Control', 'no-cache, no-store, must-revalidate')
        .type('application/json; charset=utf-8')
        .send(await sessionOf(principal, request));
    };
    scope.get('/.well-known/jmap', session);
    scope.get('/jmap/session', session);

    scope.post(jmapPaths.api, async (request, reply) => {
      const principal = await signIn(request, reply);
      if (!principal) return reply;
      const count = running.get(principal.id) ?? 0;
      if (count >= jmapLimits.maxConcurrentRequests)
        return problem(
          reply,
          429,
          new JmapRequestError(
            429,
            'limit',
            `${jmapLimits.maxConcurrentRequests} requests of this account are running already`,
            'maxConcurrentRequests',
          ).problem(),
        );
      running.set(principal.id, count + 1);
      try {
        const parsed = parseApiRequest(typeof request.body === 'string' ? request.body : '', requestCapabilities);
        const context = callContext(principal, request);
        const methodResponses = await runApiRequest(parsed, jmapMethods, context, (error, method) =>
          log.error({ err: error, method, principal: principal.address }, 'jmap: method failed'),
        );
        const { state } = await sessionOf(principal, request);
        return reply.type('application/json; charset=utf-8').send({
          methodResponses,
          sessionState: state,
          ...(parsed.createdIds ? { createdIds: parsed.createdIds } : {}),
        });
      } catch (error) {
        if (error instanceof JmapRequestError) return problem(reply, error.status, error.problem());
        throw error;
      } finally {
        const left = (running.get(principal.id) ?? 1) - 1;
        if (left > 0) running.set(principal.id, left);
        else running.delete(principal.id);
      }
    });

    scope.get(`${jmapPaths.download}:account/:blob/:name`, async (request, reply) => {
      const principal = await signIn(request, reply);
      if (!principal) return reply;
      const { account, blob, name } = request.params as { account: string; blob: string; name: string };
      const type = (request.query as { type?: string }).type;
      // A blob of a shared account is read as its owner's (the account's folders); any other is not found.
      const owner = (await accountContext({ principal, mail, log }, account)).principal;
      return sendDownload(reply, { mail, principal: owner, account, blobId: blob, name, type });
    });

    registerUploadRoute(scope, jmapPaths.upload, {
      db: holdfast.store.db,
      blobs: holdfast.store.blobs,
      log,
      maxSize: maxSizeUpload,
      maxConcurrent: jmapLimits.maxConcurrentUpload,
      now: holdfast.now,
      signIn,
      problem,
    });
    registerTokenRoutes(scope, { ...holdfast, passwords: authenticator, secure });

    // Push (RFC 8620 7.3, RFC 8887): one hub per server, fed by the mailbox change feed.
    const hub = pushHubFor(mail, log);
    registerEventSource(scope, jmapPaths.eventSource, { hub, mail, log, signIn, problem });
    registerWebSocket(scope, jmapPaths.webSocket, {
      hub,
      mail,
      log,
      callContext,
      capabilities: requestCapabilities,
      signIn,
      problem,
      sessionState: async (principal, request) => (await sessionOf(principal, request)).state,
    });
  });
}
