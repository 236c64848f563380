// HTTP Basic authentication for CalDAV, with the same accounts and failed-login limits as mail.
// Calendar clients send the password with every request, and checking it costs a memory-hard KDF
// (about 0.1 s): the directory's cache of verified sign-ins (directory/credential-cache.ts, shared
// with IMAP, POP3 and SMTP) answers the repeats, and each of them reads the account's row, so a
// disabled account, a new password or `holdfast user kick` ends it at once, on every node.
// The web app's calendar signs in with its session cookie instead (withDavWebSessions).
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import { WebSessions, type WebSessionRequest } from '../../directory/web-sessions.ts';
import type { Store } from '../../store/store.ts';
import {
  checkHttpPassword,
  parseBasicAuthorization,
  plainHttpRefusal,
  type HttpLoginRequest,
  type HttpLoginResult,
  type PlainHttpPolicy,
} from '../../net/http-credentials.ts';

export type DavAuthRequest = HttpLoginRequest;
export type DavAuthResult = HttpLoginResult;

export class DavAuthenticator {
  constructor(
    private readonly directory: Directory,
    private readonly logins: LoginLimiter,
    private readonly options: PlainHttpPolicy,
  ) {}

  async authenticate(request: DavAuthRequest): Promise<DavAuthResult> {
    const credentials = parseBasicAuthorization(request.authorization);
    if (!credentials)
      return {
        ok: false,
        status: 401,
        message: 'Authentication required: sign in with your email address and password',
      };
    const refusal = plainHttpRefusal(request, this.options);
    if (refusal) return refusal;
    return checkHttpPassword(this.directory, this.logins, request.remoteAddress, credentials);
  }
}

/** A CalDAV sign-in request that may carry the web app's session cookie (directory/web-sessions.ts). */
export type DavSignInRequest = DavAuthRequest & { webSession?: WebSessionRequest };

/**
 * The web app's session cookie (its calendar, docs/webmail.md), when a request has no Authorization
 * header and carries one; Basic otherwise. As for JMAP: the cookie is HttpOnly and SameSite=Strict,
 * every method but GET and HEAD (PROPFIND and REPORT included) must carry the session's CSRF token in
 * X-Holdfast-CSRF, and a request whose Origin is another site is refused. A refused cookie is
 * answered without a Basic challenge (`fromWebSession`), so the browser shows no password prompt.
 */
export function withDavWebSessions(inner: DavAuthenticator, deps: { store: Store; now(): number }) {
  const sessions = new WebSessions(deps.store.db, deps.now);
  return {
    async authenticate(request: DavSignInRequest): Promise<DavAuthResult & { fromWebSession?: true }> {
      if (request.authorization || !request.webSession) return inner.authenticate(request);
      const found = await sessions.check(request.webSession);
      if (!found) return inner.authenticate(request);
      return found.ok ? { ok: true, principal: found.principal } : { ...found, fromWebSession: true };
    },
  };
}
