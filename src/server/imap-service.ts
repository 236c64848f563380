// IMAP listeners: 143 (plain, STARTTLS offered; LOGINDISABLED until TLS unless [imap] plaintext_login)
// and 993 (implicit TLS). Each connection is an ImapSession.
import { createSecureContext } from 'node:tls';
import { messageDeps } from '../mailbox/messages.ts';
import { junkLearner } from '../filtering/junk-learning.ts';
import type { Holdfast, RunningService } from './holdfast.ts';
import { startSocketListeners } from '../net/socket-listeners.ts';
import { ImapContext } from '../protocols/imap/imap-context.ts';
import { ImapSession } from '../protocols/imap/session.ts';

export async function startImap(holdfast: Holdfast): Promise<RunningService> {
  const { config, tls, logger } = holdfast;
  const log = logger.child({ component: 'imap' });
  const context = new ImapContext(
    config.imap,
    // Moves into and out of Junk teach the spam filter, when it has rspamd's controller.
    { ...messageDeps(holdfast), copied: junkLearner(config.filtering, holdfast.store.blobs, logger)?.copied },
    holdfast.directory,
    holdfast.logins,
    log,
    holdfast.machineLimits?.count('imap-user', config.imap.maxConnectionsPerUser),
  );
  holdfast.metrics.countSessions('imap', () => context.sessions.size);
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const { listeners, close } = await startSocketListeners(
    holdfast,
    [
      { name: 'imap', tls: false, description: 'mailbox access, STARTTLS' },
      { name: 'imaps', tls: true, description: 'mailbox access, implicit TLS' },
    ],
    (socket, spec) => {
      const session = new ImapSession(context, socket, { name: spec.name as 'imap' | 'imaps', secureContext });
      context.sessions.add(session);
      session.start();
    },
    log,
  );
  return {
    listeners,
    close: async () => {
      const closing = close();
      for (const session of context.sessions) {
        session.send('* BYE Server shutting down');
        session.end();
      }
      await closing;
    },
    forceClose: () => context.sessions.forEach((s) => s.destroy()),
  };
}
