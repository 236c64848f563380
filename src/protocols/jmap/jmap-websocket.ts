// JMAP over WebSocket (RFC 8887) at `/jmap/ws/`, subprotocol `jmap`: the client signs in on the
// upgrade request as on the API (HTTP Basic), then sends Request objects and gets Response objects
// (with its `id` as `requestId`), run by the API's own parser and dispatcher (jmap-request.ts) under
// its limits; WebSocketPushEnable/Disable turn StateChange pushes on and off (jmap-push.ts). Requests
// of one socket run one at a time, in order, and the next one starts only once the previous
// response is written out, so a client that does not read holds at most one response and
// `maxQueuedRequests` requests; a message larger than maxSizeRequest closes the socket (1009).
import fastifyWebsocket, { type WebSocket } from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SessionCheck } from '../../directory/session-check.ts';
import type { Principal } from '../../directory/principal.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { JmapRequestError } from './jmap-errors.ts';
import { jmapLimits } from './jmap-limits.ts';
import { jmapMethods } from './jmap-methods.ts';
import {
  type AccountStates,
  AccountWatch,
  changedAccountStates,
  filterAccountStates,
  PushRefused,
  statesId,
  typesFrom,
  type PushHub,
  type TypeFilter,
  type WantedStates,
} from './jmap-push.ts';
import { parseApiRequest, runApiRequest } from './jmap-request.ts';

/** Requests a socket may have waiting behind the one running (the API's maxConcurrentRequests). */
const maxQueuedRequests = jmapLimits.maxConcurrentRequests;
/** Bytes written to a socket and not yet taken by the client, past which the client is not reading: closed. */
const maxBufferedBytes = 4 * jmapLimits.maxSizeRequest;

export interface WebSocketRoute {
  hub: PushHub;
  mail: MessageDeps;
  log: Logger;
  /** The capabilities a request's `using` may name. */
  capabilities: ReadonlySet<string>;
  signIn(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined>;
  problem(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply;
  /** The session state a Response carries. */
  sessionState(principal: Principal, request: FastifyRequest): Promise<string>;
  /** What the socket's method calls run with (as the API endpoint's). */
  callContext(principal: Principal, request: FastifyRequest): JmapCallContext;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Registers the WebSocket plugin on the app itself (not in the JMAP scope): its hooks then end the
 * connection of an upgrade request to any other path once it is answered (404 and the like), which
 * would otherwise stay open outside the HTTP server's timeouts.
 */
export function registerWebSocketPlugin(app: FastifyInstance) {
  app.register(fastifyWebsocket, {
    options: {
      maxPayload: jmapLimits.maxSizeRequest,
      // RFC 8887 4: the client offers the "jmap" subprotocol (checked before the upgrade, below).
      handleProtocols: (protocols) => (protocols.has('jmap') ? 'jmap' : false),
      perMessageDeflate: false,
    },
  });
}

/** Serves `path` on `scope` (registerWebSocketPlugin has run on the app). */
export function registerWebSocket(scope: FastifyInstance, path: string, route: WebSocketRoute) {
  /** Who signed in on an upgrade request, for the socket's handler. */
  const signedIn = new WeakMap<FastifyRequest, Principal>();

  scope.get(
    path,
    {
      websocket: true,
      // Refusals are plain HTTP answers to the upgrade request, as on the API.
      preValidation: async (request, reply) => {
        const principal = await route.signIn(request, reply);
        if (!principal) return reply;
        const protocols = String(request.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim());
        if (!request.ws || !protocols.includes('jmap'))
          return route.problem(reply, 400, {
            type: 'about:blank',
            status: 400,
            detail: 'A WebSocket upgrade with the subprotocol "jmap" (RFC 8887) is expected here',
          });
        const refused = route.hub.refusal(principal.id);
        if (refused) {
          if (refused.status === 503) reply.header('Retry-After', '30');
          return route.problem(reply, refused.status, refused.problem());
        }
        signedIn.set(request, principal);
        return undefined;
      },
    },
    (socket, request) => {
      const principal = signedIn.get(request);
      if (!principal) return socket.close(1011);
      try {
        new JmapSocket(socket, principal, request, route);
      } catch (error) {
        // Another socket of the account opened in between and took the last place.
        if (error instanceof PushRefused) return socket.close(1013, error.message.slice(0, 120));
        throw error;
      }
    },
  );
}

/** One signed-in socket: its requests in order, and its pushes when enabled. */
class JmapSocket {
  private readonly queue: string[] = [];
  private running = false;
  private push: { types: TypeFilter; sent?: WantedStates; pushState?: string } | undefined;
  private latest: AccountStates | undefined;
  /** A push is being written: the next one waits, with the latest states. */
  private pushing = false;
  private readonly check: SessionCheck;
  private readonly watch: AccountWatch;
  private readonly context: JmapCallContext;

  constructor(
    private readonly socket: WebSocket,
    private readonly principal: Principal,
    private readonly request: FastifyRequest,
    private readonly route: WebSocketRoute,
  ) {
    this.context = route.callContext(principal, request);
    this.watch = new AccountWatch(route.hub, principal, (states) => this.update(states));
    this.check = new SessionCheck(route.mail, principal, {
      log: route.log,
      waiting: () => !this.running,
      revoke: (reason) => socket.close(1008, reason.slice(0, 120)),
    });
    socket.on('message', (data, isBinary) => this.received(data, isBinary));
    socket.on('close', () => {
      this.check.stop();
      this.watch.close();
      this.queue.length = 0;
    });
  }

  /** Sends `message`; `sent` is called once it is written out (or the socket is gone). */
  private send(message: Record<string, unknown>, sent?: () => void) {
    if (this.socket.readyState !== this.socket.OPEN) return sent?.();
    if (this.socket.bufferedAmount > maxBufferedBytes) {
      this.socket.terminate();
      return sent?.();
    }
    this.socket.send(JSON.stringify(message), () => sent?.());
  }

  private requestError(error: JmapRequestError, requestId?: string) {
    this.send({ '@type': 'RequestError', ...(requestId ? { requestId } : {}), ...error.problem() });
  }

  private received(data: unknown, isBinary: boolean) {
    if (isBinary) return this.requestError(new JmapRequestError(400, 'notJSON', 'JMAP messages are text frames'));
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.requestError(new JmapRequestError(400, 'notJSON', 'The message is not JSON (RFC 8259) in UTF-8'));
    }
    const type = isObject(message) ? message['@type'] : undefined;
    if (type === 'Request') {
      const id = (message as Record<string, unknown>).id;
      if (this.queue.length >= maxQueuedRequests)
        return this.requestError(
          new JmapRequestError(
            400,
            'limit',
            `${maxQueuedRequests} requests of this socket are waiting already`,
            'maxConcurrentRequests',
          ),
          typeof id === 'string' ? id : undefined,
        );
      this.queue.push(text);
      return void this.next();
    }
    if (type === 'WebSocketPushEnable') return this.enablePush(message as Record<string, unknown>);
    if (type === 'WebSocketPushDisable') {
      this.push = undefined;
      return;
    }
    this.requestError(
      new JmapRequestError(
        400,
        'notRequest',
        'Expected a Request, WebSocketPushEnable or WebSocketPushDisable object ("@type")',
      ),
    );
  }

  /** Runs the waiting requests one at a time; the next starts once the response is written. */
  private async next() {
    if (this.running) return;
    const text = this.queue.shift();
    if (text === undefined) return;
    this.running = true;
    let requestId: string | undefined;
    try {
      const id = (JSON.parse(text) as { id?: unknown }).id;
      requestId = typeof id === 'string' ? id.slice(0, 256) : undefined;
      if (!(await this.check.holds())) return;
      const parsed = parseApiRequest(text, this.route.capabilities);
      const methodResponses = await runApiRequest(parsed, jmapMethods, this.context, (error, method) =>
        this.route.log.error({ err: error, method, principal: this.principal.address }, 'jmap: method failed'),
      );
      const sessionState = await this.route.sessionState(this.principal, this.request);
      await new Promise<void>((written) =>
        this.send(
          {
            '@type': 'Response',
            ...(requestId !== undefined ? { requestId } : {}),
            methodResponses,
            sessionState,
            ...(parsed.createdIds ? { createdIds: parsed.createdIds } : {}),
          },
          written,
        ),
      );
    } catch (error) {
      if (error instanceof JmapRequestError) this.requestError(error, requestId);
      else {
        this.route.log.error({ err: error, principal: this.principal.address }, 'jmap: websocket request failed');
        this.send({
          '@type': 'RequestError',
          ...(requestId !== undefined ? { requestId } : {}),
          type: 'about:blank',
          status: 500,
          detail: 'Server error',
        });
      }
    } finally {
      this.running = false;
      void this.next();
    }
  }

  private enablePush(message: Record<string, unknown>) {
    const { dataTypes, pushState } = message;
    if (dataTypes !== null && dataTypes !== undefined && !Array.isArray(dataTypes))
      return this.requestError(
        new JmapRequestError(400, 'notRequest', '"dataTypes" must be null or an array of type names'),
      );
    this.push = {
      types: typesFrom((dataTypes as unknown[] | undefined) ?? null),
      ...(typeof pushState === 'string' ? { pushState: pushState.slice(0, 64) } : {}),
    };
    // Without a pushState the client knows the states as they are now: only later changes are sent.
    if (this.push.pushState === undefined)
      this.push.sent = this.latest && filterAccountStates(this.latest, this.push.types);
    this.flush();
  }

  /** The states of every account the socket hears of, now. */
  update(states: AccountStates) {
    this.latest = states;
    this.flush();
  }

  private flush() {
    const push = this.push;
    const latest = this.latest;
    if (!push || !latest || this.pushing) return;
    const wanted = filterAccountStates(latest, push.types);
    if (push.sent === undefined && push.pushState === undefined) {
      push.sent = wanted;
      return;
    }
    // RFC 8887 4.3.5.2: a client that names the pushState it last saw is sent what changed since.
    if (push.sent === undefined && push.pushState === statesId(wanted)) {
      push.sent = wanted;
      return;
    }
    const changed = changedAccountStates(push.sent, latest, push.types);
    if (Object.keys(changed).length === 0) return;
    push.sent = wanted;
    this.pushing = true;
    this.send({ '@type': 'StateChange', changed, pushState: statesId(wanted) }, () => {
      this.pushing = false;
      this.flush();
    });
  }
}
