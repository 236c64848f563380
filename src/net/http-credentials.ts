// What HTTP-based services (CalDAV, the admin API) need to know about a request's credentials and
// origin, and the steps of a password check they share: no password over plain HTTP from another
// machine unless [http] plaintext_login says a TLS proxy is in front, then the directory's cache of
// verified sign-ins, then the login limiter and the directory's KDF check.
import { isIP } from 'node:net';
import type { Directory, Principal } from '../directory/directory.ts';
import { kdfRetryAfterSeconds, temporarySignInFailure } from '../directory/kdf-queue.ts';
import type { LoginLimiter, LoginOutcome } from '../directory/login-limiter.ts';

/** The user and password of an `Authorization: Basic` header, or undefined. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Whether a peer address is this machine (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6). */
export function isLoopbackAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

export interface HttpLoginRequest {
  authorization: string | undefined;
  remoteAddress: string;
  /** Whether the request came over TLS. */
  secure: boolean;
}

export interface PlainHttpPolicy {
  /** [http] plaintext_login: a TLS-terminating proxy in front makes plain HTTP safe. */
  plaintextLogin: boolean;
  httpsPort: number | 'off';
}

export type HttpLoginFailure = {
  ok: false;
  status: 401 | 403 | 429 | 503;
  message: string;
  retryAfterSeconds?: number;
};
export type HttpLoginResult<T = Principal> = { ok: true; principal: T } | HttpLoginFailure;

/** Why this request may not carry a password or token (plain HTTP from another machine), or undefined. */
export function plainHttpRefusal(request: HttpLoginRequest, policy: PlainHttpPolicy): HttpLoginFailure | undefined {
  if (request.secure || policy.plaintextLogin || isLoopbackAddress(request.remoteAddress)) return undefined;
  const https = policy.httpsPort === 'off' ? 'HTTPS' : `HTTPS (port ${policy.httpsPort})`;
  return {
    ok: false,
    status: 403,
    message: `Passwords are not accepted over plain HTTP from ${request.remoteAddress}: use ${https}, or set [http] plaintext_login = true behind a TLS-terminating proxy`,
  };
}

/** A login limiter's outcome as an HTTP answer: 429 (with the wait) when throttled, 401 when wrong. */
export function httpLoginResult<T>(outcome: LoginOutcome<T>, wrong: string): HttpLoginResult<T> {
  if (outcome.ok) return outcome;
  if (outcome.throttled)
    return { ok: false, status: 429, message: outcome.message, retryAfterSeconds: outcome.retryAfterSeconds };
  return { ok: false, status: 401, message: wrong };
}

/**
 * An address and password checked through the login limiter; 503 with Retry-After when the check
 * cannot run now (too many sign-ins wait for the KDF).
 */
export async function checkHttpPassword(
  directory: Directory,
  logins: LoginLimiter,
  remoteAddress: string,
  credentials: { user: string; password: string },
): Promise<HttpLoginResult> {
  // Calendar clients send the password with every request: one verified lately against the same
  // account row passes without the KDF and without the limiter's writes (it is no guess) — but not
  // from a source that must wait, to which a success would say that its guess was right.
  const cached = await directory.authenticateFromCache(credentials.user, credentials.password);
  if (cached) {
    const throttled = await logins.throttled(remoteAddress, credentials.user);
    return throttled ? httpLoginResult(throttled, 'Wrong email address or password') : { ok: true, principal: cached };
  }
  try {
    const outcome = await logins.attempt(remoteAddress, credentials.user, () =>
      directory.authenticate(credentials.user, credentials.password),
    );
    return httpLoginResult(outcome, 'Wrong email address or password');
  } catch (error) {
    const busy = temporarySignInFailure(error);
    if (!busy) throw error;
    return { ok: false, status: 503, message: busy.message, retryAfterSeconds: kdfRetryAfterSeconds };
  }
}
