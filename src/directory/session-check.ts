// Sessions that outlive their sign-in. An IMAP or POP3 session checks the password once, at login,
// and CalDAV remembers checked passwords for a few minutes; an administrator who disables an account,
// resets its password after a compromise or runs `holdfast user kick` expects all of them to end, as
// Exchange's "revoke sessions" and Dovecot's `doveadm kick` do. The CLI is another process and
// several nodes may share PostgreSQL, so no one can tell the sessions: each one re-reads its
// principal's row (one primary-key read) once its last read is older than `sessionRecheckMs`, at
// its next command or on a timer while it waits for the client (IDLE included).
import type { Kysely } from 'kysely';
import type { Logger } from '../logging/logger.ts';
import { PreparedQuery } from '../store/prepared-query.ts';
import type { Database } from '../store/schema.ts';
import { toPrincipal, type Principal } from './principal.ts';

/** How long a session may go on without re-reading its sign-in: the longest a revoked one lives. */
export const sessionRecheckMs = 15_000;

/** The interval sessions use: `sessionRecheckMs`, shortened by tests (read when a session signs in). */
export const sessionRecheck = { intervalMs: sessionRecheckMs };

const principalById = new PreparedQuery<{ id: number }, Parameters<typeof toPrincipal>[0]>((db, arg) =>
  db.selectFrom('principals').selectAll().where('id', '=', arg('id')),
);

/**
 * The principal as it is now, if a sign-in as `signedIn` (the principal as it was at login) still
 * holds; otherwise why not, in words for the user.
 */
export async function currentSignIn(
  db: Kysely<Database>,
  signedIn: Principal,
): Promise<{ principal: Principal } | { revoked: string }> {
  const row = await principalById.first(db, { id: signedIn.id });
  if (!row) return { revoked: 'the account was removed' };
  if (row.disabled_at !== null) return { revoked: 'the account was disabled' };
  if (row.session_generation !== signedIn.sessionGeneration)
    return { revoked: 'the password was changed or an administrator ended your sessions' };
  return { principal: toPrincipal(row) };
}

/** Where sessions re-read their principals, and the clock they count the interval by. */
export interface SessionCheckDeps {
  db: Kysely<Database>;
  now: () => number;
}

/** What a session tells its check, and how the check ends it. */
export interface CheckedSession {
  readonly log: Logger;
  /** Whether the session may be ended now: it waits for the client (not in the middle of an answer). */
  waiting(): boolean;
  /** Ends the session: the sign-in no longer holds, for `reason`. Called once. */
  revoke(reason: string): void;
}

/** The re-checks of one signed-in session: at each command (`holds`) and while it waits (a timer). */
export class SessionCheck {
  private checkedAt: number;
  private reading?: Promise<void>;
  private revoked = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly deps: SessionCheckDeps,
    private readonly principal: Principal,
    private readonly session: CheckedSession,
  ) {
    this.checkedAt = deps.now();
    this.timer = setInterval(() => {
      if (session.waiting()) void this.holds();
    }, sessionRecheck.intervalMs);
    this.timer.unref();
  }

  /**
   * Whether the sign-in still holds, read again if the last read is older than the interval. A read
   * in progress is waited for, so no command starts while one may still end the session.
   */
  async holds(): Promise<boolean> {
    if (!this.reading && !this.revoked && this.deps.now() - this.checkedAt >= sessionRecheck.intervalMs) {
      this.checkedAt = this.deps.now();
      this.reading = this.read().finally(() => {
        this.reading = undefined;
      });
    }
    await this.reading;
    return !this.revoked;
  }

  stop() {
    clearInterval(this.timer);
  }

  private async read() {
    let state: Awaited<ReturnType<typeof currentSignIn>>;
    try {
      state = await currentSignIn(this.deps.db, this.principal);
    } catch (error) {
      // The store is unreachable for now: the session goes on and reads again after the interval.
      this.session.log.warn({ err: error }, "could not re-check the session's sign-in");
      return;
    }
    if (!('revoked' in state)) return;
    this.revoked = true;
    this.stop();
    this.session.log.info(
      { user: this.principal.address, reason: state.revoked },
      'session ended: its sign-in was revoked',
    );
    this.session.revoke(state.revoked);
  }
}
