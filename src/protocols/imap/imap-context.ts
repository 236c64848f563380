// What every IMAP session shares: configuration, the store and mailbox operations, the login limiter,
// the count of open sessions per user (a limit against runaway clients) and which messages are \Recent.
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { Logger } from '../../logging/logger.ts';
import { RecentMessages } from './recent-messages.ts';
import type { ImapSession } from './session.ts';

export class ImapContext {
  readonly sessions = new Set<ImapSession>();
  private readonly perUser = new Map<number, number>();
  /** \Recent of IMAP4rev1 sessions, kept per folder in this node's memory. */
  readonly recent: RecentMessages;

  constructor(
    readonly config: Config['imap'],
    readonly mail: MessageDeps,
    readonly directory: Directory,
    readonly logins: LoginLimiter,
    readonly log: Logger,
  ) {
    this.recent = new RecentMessages(mail.now());
  }

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
