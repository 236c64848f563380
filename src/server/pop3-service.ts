// POP3 listeners: 110 (plain, STLS offered; passwords only after it unless [imap] plaintext_login)
// and 995 (implicit TLS). Each connection is a Pop3Session on the INBOX of the mailbox model.
import { createSecureContext } from 'node:tls';
import { messageDeps } from '../mailbox/messages.ts';
import type { Holdfast, RunningService } from './holdfast.ts';
import { startSocketListeners } from '../net/socket-listeners.ts';
import { Pop3Context } from '../protocols/pop3/pop3-context.ts';
import { Pop3Session } from '../protocols/pop3/pop3-session.ts';

export async function startPop3(holdfast: Holdfast): Promise<RunningService> {
  const { config, tls, logger } = holdfast;
  const log = logger.child({ component: 'pop3' });
  const context = new Pop3Context(
    messageDeps(holdfast),
    holdfast.directory,
    holdfast.logins,
    config.imap.plaintextLogin,
    log,
  );
  holdfast.metrics.countSessions('pop3', () => context.sessions.size);
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const { listeners, close } = await startSocketListeners(
    holdfast,
    [
      { name: 'pop3', tls: false, description: 'POP3, STLS' },
      { name: 'pop3s', tls: true, description: 'POP3, implicit TLS' },
    ],
    (socket, spec) => {
      const session = new Pop3Session(context, socket, spec.tls, secureContext);
      context.sessions.add(session);
      session.start();
    },
    log,
  );
  return {
    listeners,
    close: async () => {
      const closing = close();
      for (const session of context.sessions) session.end('Server shutting down; nothing was deleted');
      await closing;
    },
    forceClose: () => context.sessions.forEach((s) => s.destroy()),
  };
}
