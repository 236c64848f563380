// A bound on HTTP/1.1 pipelining. Node stops reading from a connection whose answers the client does
// not read, but only after it has run every request in the data it already read: one 64 KiB read
// holds some 1,500 small pipelined requests, and they all run back to back, holding the event loop
// for a second or more for every other client. Browsers and CalDAV clients send one request at a
// time on a connection, so a connection with more requests than this waiting for their answers is
// closed, and the rest of what it sent is dropped without running.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Far above any real client (pipelining is off in every browser), far below a flood's 1,500 per read. */
export const maxWaitingRequests = 32;

/** Wraps the server's request handler (Fastify's) so that it only runs for connections within the bound. */
export function limitPipelining(server: Server) {
  const handlers = server.listeners('request') as ((request: IncomingMessage, response: ServerResponse) => void)[];
  const [handler] = handlers;
  if (!handler || handlers.length !== 1)
    throw new Error(`expected one request handler on the HTTP server, found ${handlers.length}`);
  const waiting = new WeakMap<Socket, number>();
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const { socket } = request;
    const count = (waiting.get(socket) ?? 0) + 1;
    if (count > maxWaitingRequests || socket.destroyed) {
      // The first request beyond the bound takes its connection down with it; the rest of the
      // flood's read follows. Destroyed without an error, each costs Node no stack trace when it
      // aborts the requests left on the closed connection (a flood leaves some 1,500).
      request.destroy();
      return;
    }
    waiting.set(socket, count);
    response.once('close', () => waiting.set(socket, (waiting.get(socket) ?? 1) - 1));
    handler(request, response);
  });
}
