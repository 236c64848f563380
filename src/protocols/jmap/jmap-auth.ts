// Signing in to JMAP: HTTP Basic with the account's password (the authenticator CalDAV uses, with
// its cache of verified sign-ins), or `Authorization: Bearer` with one of the user's app tokens
// (scope `jmap`: `holdfast token create --scope jmap`, or the token endpoint, token-routes.ts). A
// token is refused over plain HTTP from another machine as a password is, goes through the login
// limiter (per source and token prefix, as the admin API counts tokens: a bad token is a failure),
// and is read from the store at every request, so a revoked token is refused at once, on every node.
// Or the web app's session cookie (withWebSessions; directory/web-sessions.ts).
import { ApiTokens, parseBearerAuthorization, tokenAccount } from '../../directory/api-tokens.ts';
import type { Directory, Principal } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import {
  httpLoginResult,
  plainHttpRefusal,
  type HttpLoginRequest,
  type HttpLoginResult,
  type PlainHttpPolicy,
} from '../../net/http-credentials.ts';
import type { Store } from '../../store/store.ts';
import { WebSessions, type WebSessionRequest } from '../../directory/web-sessions.ts';

export interface JmapSignIn {
  authenticate(request: HttpLoginRequest): Promise<HttpLoginResult>;
}

/** `passwords` for Basic, app tokens for Bearer. */
export function withAppTokens(
  passwords: JmapSignIn,
  deps: { store: Store; directory: Directory; logins: LoginLimiter; policy: PlainHttpPolicy; now(): number },
): JmapSignIn {
  const tokens = new ApiTokens(deps.store.db, deps.directory, deps.now);
  return {
    async authenticate(request) {
      const bearer = parseBearerAuthorization(request.authorization);
      if (!bearer) return passwords.authenticate(request);
      const refusal = plainHttpRefusal(request, deps.policy);
      if (refusal) return refusal;
      const outcome = await deps.logins.attempt<Principal>(request.remoteAddress, tokenAccount(bearer), () =>
        tokens.principalOf(bearer, 'jmap'),
      );
      return httpLoginResult(outcome, 'Unknown or revoked app token');
    },
  };
}

/** A sign-in request that may carry the web app's session cookie (directory/web-sessions.ts). */
export type JmapSignInRequest = HttpLoginRequest & { webSession?: WebSessionRequest };

/**
 * The web app's session cookie, when a request has no Authorization header and carries one; the
 * other ways (`inner`) otherwise. The cookie is HttpOnly and SameSite=Strict; requests that change
 * something must carry the session's CSRF token too, and requests from another origin are refused.
 */
export function withWebSessions(inner: JmapSignIn, deps: { store: Store; now(): number }) {
  const sessions = new WebSessions(deps.store.db, deps.now);
  return {
    /** `fromWebSession` on a refusal of the cookie: it is answered without a Basic challenge (no browser prompt). */
    async authenticate(request: JmapSignInRequest): Promise<HttpLoginResult & { fromWebSession?: true }> {
      if (request.authorization || !request.webSession) return inner.authenticate(request);
      const found = await sessions.check(request.webSession);
      if (!found) return inner.authenticate(request);
      return found.ok ? { ok: true, principal: found.principal } : { ...found, fromWebSession: true };
    },
  };
}
