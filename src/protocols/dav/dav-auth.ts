// HTTP Basic authentication for CalDAV, with the same accounts and failed-login limits as mail.
// Calendar clients send the password with every request, and checking it costs a memory-hard KDF
// (about 0.1 s), so a successful check is remembered for a few minutes under a keyed hash of the
// credentials (never the password itself), as Dovecot's auth cache does. Each use of a remembered
// check re-reads the account (session-check.ts), so a disabled account, a new password or
// `holdfast user kick` ends it at once, on every node.
import { createHmac, randomBytes } from 'node:crypto';
import type { Directory, Principal } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import { currentSignIn } from '../../directory/session-check.ts';
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

const cacheTtlMs = 5 * 60_000;
const cacheMaxEntries = 10_000;

export class DavAuthenticator {
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();
  private readonly key = randomBytes(32);

  constructor(
    private readonly directory: Directory,
    private readonly logins: LoginLimiter,
    private readonly options: PlainHttpPolicy,
    private readonly now: () => number,
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
    const cacheKey = createHmac('sha256', this.key)
      .update(`${credentials.user}\0${credentials.password}`)
      .digest('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expires > this.now()) {
      // The account may have been disabled, removed or given a new password since (by the CLI, in
      // another process): a primary-key read, far cheaper than the KDF the cache saves, says so.
      const current = await currentSignIn(this.directory.db, cached.principal);
      if ('principal' in current) return { ok: true, principal: current.principal };
      this.cache.delete(cacheKey);
    }

    const result = await checkHttpPassword(this.directory, this.logins, request.remoteAddress, credentials);
    if (!result.ok) return result;
    const { principal } = result;
    if (this.cache.size >= cacheMaxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, { principal, expires: this.now() + cacheTtlMs });
    return { ok: true, principal };
  }
}
