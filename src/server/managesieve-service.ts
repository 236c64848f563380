// The ManageSieve listener (RFC 5804, port 4190, STARTTLS): users manage their Sieve scripts with
// Thunderbird's sieve add-on, Roundcube or sieve-connect. Part of the imap role (mailbox access),
// with its sign-in and login limiter.
import { createSecureContext } from 'node:tls';
import { startSocketListeners } from '../net/socket-listeners.ts';
import { type ManageSieveContext, ManageSieveSession } from '../protocols/managesieve/managesieve-session.ts';
import type { Holdfast, RunningService } from './holdfast.ts';

export async function startManageSieve(holdfast: Holdfast): Promise<RunningService> {
  const { config, tls, logger, store } = holdfast;
  const context: ManageSieveContext = {
    db: store.db,
    now: holdfast.now,
    directory: holdfast.directory,
    logins: holdfast.logins,
    plaintextLogin: config.imap.plaintextLogin,
    sieve: config.sieve,
    log: logger.child({ component: 'managesieve' }),
    sessions: new Set(),
  };
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const { listeners, close } = await startSocketListeners(
    holdfast,
    [{ name: 'managesieve', tls: false, description: 'ManageSieve (Sieve scripts), STARTTLS' }],
    (socket) => {
      const session = new ManageSieveSession(context, socket, false, secureContext);
      context.sessions.add(session);
      session.start();
    },
    context.log,
  );
  return {
    listeners,
    close: async () => {
      const closing = close();
      for (const session of context.sessions) session.end('Server shutting down');
      await closing;
    },
    forceClose: () => context.sessions.forEach((s) => s.destroy()),
  };
}
