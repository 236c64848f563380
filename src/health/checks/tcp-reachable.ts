// Whether something accepts TCP connections on a host and port, within a time bound.
import { connect } from 'node:net';

export function acceptsConnections(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Where to reach a listener bound to a wildcard address from this machine. */
export const localHost = (bind: string) => (bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind);
