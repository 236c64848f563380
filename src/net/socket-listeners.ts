// The pair of listeners a mailbox protocol has: one plain (TLS by a STARTTLS-like command) and one
// with implicit TLS, each optional (port "off"). Shared by IMAP and POP3.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Config, ListenerName } from '../config/schema.ts';
import { listen, type ListenerInfo } from './listen.ts';
import type { Logger } from '../logging/logger.ts';
import type { TlsMaterial } from './tls-certificate.ts';

export interface SocketListenerSpec {
  name: ListenerName;
  /** Whether connections arrive already in TLS. */
  tls: boolean;
  description: string;
}

export interface SocketListeners {
  listeners: ListenerInfo[];
  /** Stops accepting; resolves when the servers are closed. */
  close(): Promise<void>;
}

/** Where to listen (`config.ports`, `config.bind`) and the certificate for the implicit-TLS ones. */
export interface ListenerSettings {
  config: Pick<Config, 'ports' | 'bind'>;
  tls: TlsMaterial;
}

export async function startSocketListeners(
  settings: ListenerSettings,
  specs: SocketListenerSpec[],
  accept: (socket: Socket, spec: SocketListenerSpec) => void,
  log: Logger,
): Promise<SocketListeners> {
  const { config, tls } = settings;
  const servers: Server[] = [];
  const listeners: ListenerInfo[] = [];
  const close = () =>
    Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {});
  try {
    for (const spec of specs) {
      const port = config.ports[spec.name];
      if (port === 'off') continue;
      const server = spec.tls
        ? createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => accept(socket, spec))
        : createServer((socket) => accept(socket, spec));
      server.on('tlsClientError', (error: Error) =>
        log.debug({ err: error, listener: spec.name }, 'TLS handshake failed'),
      );
      servers.push(server);
      const actual = await listen(server, spec.name, config.bind, port);
      listeners.push({
        name: spec.name,
        host: config.bind,
        port: actual,
        scheme: spec.name,
        description: spec.description,
      });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { listeners, close };
}
