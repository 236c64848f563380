// What every POP3 session shares: the store, the directory and login limiter (with IMAP and SMTP),
// and the maildrop locks (RFC 1939 §8: one POP3 session per mailbox at a time).
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Pop3Session } from './pop3-session.ts';

export class Pop3Context {
  readonly sessions = new Set<Pop3Session>();
  private readonly locks = new Map<number, Pop3Session>();
  /** RFC 1939 asks for at least ten minutes before an idle session is closed. */
  readonly idleTimeoutMs = 10 * 60_000;

  constructor(
    readonly mail: MessageDeps,
    readonly directory: Directory,
    readonly logins: LoginLimiter,
    readonly plaintextLogin: boolean,
    readonly log: Logger,
  ) {}

  /** Takes the principal's maildrop lock for this session; false if another session holds it. */
  lock(principalId: number, session: Pop3Session): boolean {
    const holder = this.locks.get(principalId);
    if (holder && holder !== session) return false;
    this.locks.set(principalId, session);
    return true;
  }

  sessionClosed(session: Pop3Session, principalId: number | undefined) {
    this.sessions.delete(session);
    if (principalId !== undefined && this.locks.get(principalId) === session) this.locks.delete(principalId);
  }
}
