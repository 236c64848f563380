// Opening a listening socket, with errors an administrator can act on: which setting, which port,
// what went wrong and how to choose differently.
import type { Server } from 'node:net';
import type { ListenerName } from '../config/schema.ts';
import { unavailable } from '../errors.ts';

export interface ListenerInfo {
  name: ListenerName;
  host: string;
  port: number;
  /** The URL scheme or protocol spoken, for the summary ("smtp", "imaps", "https"...). */
  scheme: string;
  description: string;
}

export const portVariable = (name: ListenerName) => `HOLDFAST_${name.toUpperCase()}_PORT`;

export function listen(server: Server, name: ListenerName, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(describeListenError(error, name, host, port));
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

export function describeListenError(
  error: NodeJS.ErrnoException,
  name: ListenerName,
  host: string,
  port: number,
): Error {
  const key = portVariable(name);
  switch (error.code) {
    case 'EADDRINUSE':
      return unavailable(
        'port-in-use',
        `${key} = ${port}: port ${port} on ${host} is already in use by another program; stop that program, or set ${key} to a free port (or "off" to disable the ${name} listener)`,
      );
    case 'EACCES':
      return unavailable(
        'port-not-permitted',
        `${key} = ${port}: not permitted to listen on port ${port} (ports below 1024 need root or the CAP_NET_BIND_SERVICE capability: ` +
          `sudo setcap cap_net_bind_service=+ep "$(command -v node)"); or set ${key} to a port above 1023, or "off"`,
      );
    case 'EADDRNOTAVAIL':
      return unavailable(
        'bind-address-unavailable',
        `HOLDFAST_BIND = ${host}: this machine has no such address; use 0.0.0.0 (all IPv4), :: (all) or one of its addresses`,
      );
    default:
      return unavailable('listen-failed', `${key} = ${port}: cannot listen on ${host}:${port}: ${error.message}`);
  }
}
