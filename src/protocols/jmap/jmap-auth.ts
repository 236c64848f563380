// Signing in to JMAP: HTTP Basic with the account's password (the authenticator CalDAV uses, with
// its cache of verified sign-ins), or `Authorization: Bearer` with one of the user's app tokens
// (scope `jmap`: `holdfast token create --scope jmap`, or the token endpoint, token-routes.ts). A
// token is refused over plain HTTP from another machine as a password is, goes through the login
// limiter (per source and token prefix, as the admin API counts tokens: a bad token is a failure),
// and is read from the store at every request, so a revoked token is refused at once, on every node.
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
