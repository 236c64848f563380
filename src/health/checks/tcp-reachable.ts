// Whether something accepts connections on a host and port, within a time bound. On implicit-TLS
// ports the TLS handshake is completed too: a bare connect-and-close looks like a broken client there
// (and is logged as one).
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { ListenerName } from '../../config/schema.ts';

export const implicitTls: readonly ListenerName[] = ['submissions', 'imaps', 'pop3s', 'https'];

export function acceptsConnections(
  host: string,
  port: number,
  options: { tls?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    // Our own listener on this machine: whose certificate it is, is not the question here.
    const socket = options.tls ? connectTls({ host, port, rejectUnauthorized: false }) : connect({ host, port });
    const done = (ok: boolean) => {
      if (options.tls && ok) socket.end();
      else socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(options.timeoutMs ?? 2000, () => done(false));
    socket.once(options.tls ? 'secureConnect' : 'connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Where to reach a listener bound to a wildcard address from this machine. */
export const localHost = (bind: string) => (bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind);
