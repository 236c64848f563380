// What every IMAP session shares: configuration, the store and mailbox operations, the login limiter,
// and the count of open sessions per user (a limit against runaway clients).
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ImapSession } from './session.ts';

export class ImapContext {
  readonly sessions = new Set<ImapSession>();
  private readonly perUser = new Map<number, number>();

  constructor(
    readonly config: Config['imap'],
    readonly mail: MessageDeps,
    readonly directory: Directory,
    readonly logins: LoginLimiter,
    readonly log: Logger,
  ) {}

  /** Whether the user may open another session. */
  mayOpen(principalId: number): boolean {
    return (this.perUser.get(principalId) ?? 0) < this.config.maxConnectionsPerUser;
  }

  sessionOpened(session: ImapSession) {
    if (session.principal) this.perUser.set(session.principal.id, (this.perUser.get(session.principal.id) ?? 0) + 1);
  }

  sessionClosed(session: ImapSession) {
    this.sessions.delete(session);
    if (!session.principal) return;
    const left = (this.perUser.get(session.principal.id) ?? 1) - 1;
    if (left > 0) this.perUser.set(session.principal.id, left);
    else this.perUser.delete(session.principal.id);
  }
}
