// IMAP listeners: 143 (plain, STARTTLS offered; LOGINDISABLED until TLS unless [imap] plaintext_login)
// and 993 (implicit TLS). Each connection is an ImapSession.
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';
import type { Holdfast, RunningService } from '../../server/holdfast.ts';
import { listen, type ListenerInfo } from '../../server/listen.ts';
import { ImapContext } from './imap-context.ts';
import { ImapSession } from './session.ts';

export async function startImap(holdfast: Holdfast): Promise<RunningService> {
  const { config, store, tls, logger } = holdfast;
  const log = logger.child({ component: 'imap' });
  const context = new ImapContext(
    config.imap,
    { db: store.db, dialect: store.dialect, blobs: store.blobs, changes: holdfast.changes, now: holdfast.now },
    holdfast.directory,
    holdfast.logins,
    log,
  );
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const servers: Server[] = [];
  const listeners: ListenerInfo[] = [];
  const accept = (name: 'imap' | 'imaps') => (socket: Socket) => {
    const session = new ImapSession(context, socket, { name, secureContext });
    context.sessions.add(session);
    session.start();
  };
  try {
    for (const name of ['imap', 'imaps'] as const) {
      const port = config.ports[name];
      if (port === 'off') continue;
      const server = name === 'imaps' ? createTlsServer({ cert: tls.cert, key: tls.key }, accept(name)) : createServer(accept(name));
      server.on('tlsClientError', (error: Error) => log.debug({ err: error }, 'imap: TLS handshake failed'));
      servers.push(server);
      const actual = await listen(server, name, config.bind, port);
      listeners.push({ name, host: config.bind, port: actual, scheme: name, description: name === 'imap' ? 'mailbox access, STARTTLS' : 'mailbox access, implicit TLS' });
    }
  } catch (error) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw error;
  }
  return {
    listeners,
    close: async () => {
      const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const session of context.sessions) {
        session.send('* BYE Server shutting down');
        session.end();
      }
      await Promise.all(closing);
    },
    forceClose: () => context.sessions.forEach((s) => s.destroy()),
  };
}
