// HTTP Basic authentication for CalDAV, with the same accounts and failed-login limits as mail.
// Calendar clients send the password with every request, and checking it costs a memory-hard KDF
// (about 0.1 s): the directory's cache of verified sign-ins (directory/credential-cache.ts, shared
// with IMAP, POP3 and SMTP) answers the repeats, and each of them reads the account's row, so a
// disabled account, a new password or `holdfast user kick` ends it at once, on every node.
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
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
