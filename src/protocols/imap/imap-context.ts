// What every IMAP session shares: configuration, the store and mailbox operations, the login limiter,
// and the count of open sessions per user (a limit against runaway clients). Under --workers that
// count is the machine's (SharedCount: the primary keeps it); this process's own count is then what
// it falls back to when the primary does not answer in time.
import type { Config } from '../../config/schema.ts';
import type { Directory } from '../../directory/directory.ts';
import type { LoginLimiter } from '../../directory/login-limiter.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ImapSession } from './session.ts';

/** A count shared by the processes of one machine (`--workers`: kept by the primary), with its limit. */
export interface SharedCount {
  /** Takes a slot of `key`: true if taken, false if all are in use, undefined if there was no answer in time. */
  take(key: string): Promise<boolean | undefined>;
  /** Gives back a slot `take` took. */
  give(key: string): void;
}

export class ImapContext {
  readonly sessions = new Set<ImapSession>();
  private readonly perUser = new Map<number, number>();

  /** With `machine`, the per-user limit counts the sessions of every process of the machine. */
  constructor(
    readonly config: Config['imap'],
    readonly mail: MessageDeps,
    readonly directory: Directory,
    readonly logins: LoginLimiter,
    readonly log: Logger,
    private readonly machine?: SharedCount,
  ) {}

  /**
   * Whether the user may open another session. In one process a synchronous check (LOGIN is hot);
   * with a machine-wide count a promise, and a true answer holds a slot: the session then opens
   * (sessionOpened … sessionClosed gives it back) or the login calls openAbandoned.
   */
  mayOpen(principalId: number): boolean | Promise<boolean> {
    if (this.machine)
      return this.machine.take(String(principalId)).then((taken) => taken ?? this.locallyFree(principalId));
    return this.locallyFree(principalId);
  }

  /** A login that mayOpen let through did not open its session after all. */
  openAbandoned(principalId: number) {
    this.machine?.give(String(principalId));
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
    this.machine?.give(String(session.principal.id));
  }

  private locallyFree(principalId: number): boolean {
    return (this.perUser.get(principalId) ?? 0) < this.config.maxConnectionsPerUser;
  }
}
