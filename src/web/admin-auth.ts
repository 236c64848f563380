// Who may use the administrative HTTP endpoints: an administrator, by address and password (HTTP
// Basic) or by an API token (`Authorization: Bearer hf_…`, from `holdfast token create`). Both
// are refused over plain HTTP from another machine, as CalDAV does ([http] plaintext_login), and
// both go through the login limiter: passwords per (source, address), tokens per (source, token
// prefix), so bad tokens from one client never lock out the others. A tenant administrator sees
// their tenant only. A request without an Authorization header may instead carry the web app's
// session cookie (directory/web-sessions.ts: the admin center at /admin/), with its CSRF header on
// every method but GET and HEAD and no other site's Origin; its refusals never ask for Basic.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiTokens, parseBearerAuthorization, tokenAccount } from '../directory/api-tokens.ts';
import type { Principal } from '../directory/directory.ts';
import { cookieValue, webSessionCookieName, webSessionRequest, WebSessions } from '../directory/web-sessions.ts';
import type { WebContext } from './web-context.ts';
import {
  checkHttpPassword,
  httpLoginResult,
  parseBasicAuthorization,
  plainHttpRefusal,
  type HttpLoginRequest,
  type HttpLoginResult,
} from '../net/http-credentials.ts';

export interface AdminIdentity {
  address: string;
  role: 'global-admin' | 'tenant-admin';
  /** The tenant name of a tenant administrator. */
  tenant?: string;
}

export type AdminAuthResult = HttpLoginResult<AdminIdentity>;

/** How an API words a refusal: its realm for WWW-Authenticate and the body of the answer. */
export interface RefusalWording {
  realm: string;
  body: (status: number, message: string) => unknown;
}

/** The credentials and origin of an HTTP request. */
export function loginRequest(request: FastifyRequest): HttpLoginRequest {
  return {
    authorization: request.headers.authorization,
    // The client's own address and scheme, through a trusted proxy too (see http-service.ts).
    remoteAddress: request.ip ?? '',
    secure: request.protocol === 'https',
  };
}

export async function authenticateAdmin(holdfast: WebContext, request: HttpLoginRequest): Promise<AdminAuthResult> {
  const result = await authenticatePrincipal(holdfast, request);
  if (!result.ok) return result;
  return adminOf(holdfast, result.principal);
}

/** The administrator a signed-in principal is, or 403 for a user. */
async function adminOf(holdfast: WebContext, principal: Principal): Promise<AdminAuthResult> {
  if (principal.role === 'user')
    return { ok: false, status: 403, message: `${principal.address} is not an administrator` };
  if (principal.role === 'global-admin')
    return { ok: true, principal: { address: principal.address, role: 'global-admin' } };
  const tenant = (await holdfast.directory.listTenants()).find((t) => t.id === principal.tenantId);
  return { ok: true, principal: { address: principal.address, role: 'tenant-admin', tenant: tenant?.name } };
}

/**
 * The administrator of a request; otherwise sends the refusal — 401 with WWW-Authenticate, 403, or
 * 429 or 503 with Retry-After — with the body `body` words for this API, and answers undefined.
 */
export async function requireAdmin(
  holdfast: WebContext,
  request: FastifyRequest,
  reply: FastifyReply,
  options: RefusalWording,
): Promise<AdminIdentity | undefined> {
  const cookie = !request.headers.authorization && hasSessionCookie(request);
  const result = cookie
    ? await sessionAdmin(holdfast, request)
    : await authenticateAdmin(holdfast, loginRequest(request));
  if (result.ok) return result.principal;
  reply.code(result.status);
  // A browser's session is refused without a challenge: it must never show its own password prompt.
  if (result.status === 401 && !cookie)
    reply.header('WWW-Authenticate', `Basic realm="${options.realm}", charset="UTF-8"`);
  if (result.retryAfterSeconds) reply.header('Retry-After', String(result.retryAfterSeconds));
  reply.send(options.body(result.status, result.message));
  return undefined;
}

/** As requireAdmin, for endpoints only global administrators may use (a tenant administrator gets 403). */
export async function requireGlobalAdmin(
  holdfast: WebContext,
  request: FastifyRequest,
  reply: FastifyReply,
  options: RefusalWording,
): Promise<AdminIdentity | undefined> {
  const admin = await requireAdmin(holdfast, request, reply, options);
  if (!admin || admin.role === 'global-admin') return admin;
  reply
    .code(403)
    .send(options.body(403, `${admin.address} is a tenant administrator; this needs a global administrator`));
  return undefined;
}

const secureRequest = (request: FastifyRequest) => request.protocol === 'https';

function hasSessionCookie(request: FastifyRequest): boolean {
  return cookieValue(request.headers.cookie, webSessionCookieName(secureRequest(request))) !== undefined;
}

/** The administrator of a request's web session (its CSRF header and origin checked): 401 when it ended. */
async function sessionAdmin(holdfast: WebContext, request: FastifyRequest): Promise<AdminAuthResult> {
  const sessions = new WebSessions(holdfast.store.db, holdfast.now);
  const found = await sessions.check(webSessionRequest(request, secureRequest(request)));
  if (!found) return { ok: false, status: 401, message: 'Sign in as an administrator' };
  if (!found.ok) return { ok: false, status: found.status, message: found.message };
  return adminOf(holdfast, found.principal);
}

/** The `code` of an error body for each refusal status. */
export const errorCodes: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  429: 'too-many-requests',
  503: 'unavailable',
};

async function authenticatePrincipal(holdfast: WebContext, request: HttpLoginRequest): Promise<HttpLoginResult> {
  const bearer = parseBearerAuthorization(request.authorization);
  const credentials = parseBasicAuthorization(request.authorization);
  if (!bearer && !credentials) return { ok: false, status: 401, message: 'Sign in as an administrator' };
  const refusal = plainHttpRefusal(request, {
    plaintextLogin: holdfast.config.http.plaintextLogin,
    httpsPort: holdfast.config.ports.https,
  });
  if (refusal) return refusal;
  if (bearer) {
    const tokens = new ApiTokens(holdfast.store.db, holdfast.directory, holdfast.now);
    const outcome = await holdfast.logins.attempt<Principal>(request.remoteAddress, tokenAccount(bearer), () =>
      tokens.principalOf(bearer, 'admin'),
    );
    return httpLoginResult(outcome, 'Unknown or revoked API token');
  }
  return checkHttpPassword(holdfast.directory, holdfast.logins, request.remoteAddress, credentials!);
}
