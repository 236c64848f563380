// HTTP Basic authentication for CalDAV, with the same accounts and failed-login limits as mail.
// Calendar clients send the password with every request, and checking it costs a memory-hard KDF
// (about 0.1 s), so a successful check is remembered for a few minutes under a keyed hash of the
// credentials (never the password itself), as Dovecot's auth cache does.
import { createHmac, randomBytes } from 'node:crypto';
import type { Directory, Principal } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import { isLoopbackAddress, parseBasicAuthorization } from '../../server/http-credentials.ts';

export interface DavAuthRequest {
  authorization: string | undefined;
  remoteAddress: string;
  secure: boolean;
}

export type DavAuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403 | 429; message: string };

const cacheTtlMs = 5 * 60_000;
const cacheMaxEntries = 10_000;

export class DavAuthenticator {
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();
  private readonly key = randomBytes(32);

  constructor(
    private readonly directory: Directory,
    private readonly logins: LoginLimiter,
    private readonly options: { plaintextLogin: boolean; httpsPort: number | 'off' },
    private readonly now: () => number,
  ) {}

  async authenticate(request: DavAuthRequest): Promise<DavAuthResult> {
    const credentials = parseBasicAuthorization(request.authorization);
    if (!credentials) return { ok: false, status: 401, message: 'Authentication required: sign in with your email address and password' };
    if (!request.secure && !this.options.plaintextLogin && !isLoopbackAddress(request.remoteAddress)) {
      const https = this.options.httpsPort === 'off' ? 'HTTPS' : `HTTPS (port ${this.options.httpsPort})`;
      return { ok: false, status: 403, message: `Passwords are not accepted over plain HTTP from ${request.remoteAddress}: use ${https}, or set [http] plaintext_login = true behind a TLS-terminating proxy` };
    }
    const cacheKey = createHmac('sha256', this.key).update(`${credentials.user}\0${credentials.password}`).digest('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expires > this.now()) return { ok: true, principal: cached.principal };

    const refusal = this.logins.refusal(request.remoteAddress, credentials.user);
    if (refusal) return { ok: false, status: 429, message: refusal };
    const principal = await this.directory.authenticate(credentials.user, credentials.password);
    if (!principal) {
      this.logins.record(request.remoteAddress, credentials.user);
      return { ok: false, status: 401, message: 'Wrong email address or password' };
    }
    if (this.cache.size >= cacheMaxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, { principal, expires: this.now() + cacheTtlMs });
    return { ok: true, principal };
  }
}
