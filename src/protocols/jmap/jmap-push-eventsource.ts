// JMAP push over EventSource (RFC 8620 7.3): `GET /jmap/eventsource/?types=…&closeafter=…&ping=…`
// answers a text/event-stream of `state` events, each a StateChange with the accounts (the user's
// own and those shared with them) and types (of those asked) whose state changed since the
// connection's last event, and `ping` events when nothing was sent for
// the ping interval. The first event carries the states as they are when the connection opens, unless
// the client reconnects with the Last-Event-ID of those very states (then it waits for the next
// change), so a client that reconnects never misses a change. A slow reader is never queued more
// than one event: while the socket does not take what was written, changes only replace the states
// to send next, and a client that reads nothing for a minute is disconnected.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SessionCheck } from '../../directory/session-check.ts';
import type { Principal } from '../../directory/principal.ts';
import type { Logger } from '../../logging/logger.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';
import {
  type AccountStates,
  AccountWatch,
  changedAccountStates,
  filterAccountStates,
  parseTypes,
  type PushRefused,
  pushLimits,
  statesId,
  type PushHub,
  type TypeFilter,
  type WantedStates,
} from './jmap-push.ts';

export interface EventSourceOptions {
  types: TypeFilter;
  closeAfterState: boolean;
  /** Seconds between pings when nothing else is sent; 0 for none. */
  pingSeconds: number;
  /** The id of the last event the client saw (its states), when it reconnects. */
  lastEventId?: string;
}

/** The query's parameters; the session's unexpanded templates and nonsense mean the defaults. */
export function eventSourceOptions(query: Record<string, unknown>, lastEventId: unknown): EventSourceOptions {
  const ping = typeof query.ping === 'string' && /^[0-9]{1,9}$/.test(query.ping) ? Number(query.ping) : 0;
  return {
    types: parseTypes(query.types),
    closeAfterState: query.closeafter === 'state',
    // RFC 8620 7.3: the server may clamp the interval, and tells the one it uses in each ping.
    pingSeconds: ping === 0 ? 0 : Math.min(pushLimits.maxPingSeconds, Math.max(pushLimits.minPingSeconds, ping)),
    ...(typeof lastEventId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(lastEventId) ? { lastEventId } : {}),
  };
}

/** One open EventSource response. */
class EventSourceSink {
  private sent: WantedStates | undefined;
  private latest: AccountStates | undefined;
  private blocked = false;
  private blockedTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: EventSourceOptions,
  ) {
    this.armPing();
  }

  /** The states of every account the connection hears of, now. */
  update(states: AccountStates) {
    this.latest = states;
    if (!this.blocked && !this.ended) this.flush();
  }

  private flush() {
    const latest = this.latest;
    if (!latest) return;
    const wanted = filterAccountStates(latest, this.options.types);
    // A reconnecting client that saw these very states waits for the next change.
    if (this.sent === undefined && this.options.lastEventId === statesId(wanted)) {
      this.sent = wanted;
      return;
    }
    const changed = changedAccountStates(this.sent, latest, this.options.types);
    if (Object.keys(changed).length === 0) return;
    this.sent = wanted;
    const data = JSON.stringify({ '@type': 'StateChange', changed });
    this.write(`event: state\nid: ${statesId(wanted)}\ndata: ${data}\n\n`);
    if (this.options.closeAfterState) this.end();
  }

  private write(text: string) {
    if (this.ended) return;
    this.armPing();
    if (this.response.write(text)) return;
    // The client does not read as fast: nothing more is written until the socket drains, and what
    // changes meanwhile is sent then as the latest states (one event).
    this.blocked = true;
    this.blockedTimer = setTimeout(() => this.response.destroy(), pushLimits.maxBlockedMs);
    this.response.once('drain', () => {
      this.blocked = false;
      clearTimeout(this.blockedTimer);
      this.flush();
    });
  }

  /** RFC 8620 7.3: a ping whenever the interval passes since the previous event (of either kind). */
  private armPing() {
    if (this.options.pingSeconds === 0) return;
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      if (this.blocked) return this.armPing();
      this.write(`event: ping\ndata: ${JSON.stringify({ interval: this.options.pingSeconds })}\n\n`);
    }, this.options.pingSeconds * 1000);
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    this.response.end();
  }

  stop() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.blockedTimer);
  }
}

export interface EventSourceRoute {
  hub: PushHub;
  mail: MessageDeps;
  log: Logger;
  /** The signed-in principal, or undefined once the refusal is sent. */
  signIn(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined>;
  problem(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply;
}

/** Serves `path` on `scope`; the app's connections are ended when it closes (they would hold it open). */
export function registerEventSource(scope: FastifyInstance, path: string, route: EventSourceRoute) {
  const open = new Set<EventSourceSink>();
  scope.addHook('preClose', async () => {
    for (const sink of open) sink.end();
  });

  scope.get(path, async (request, reply) => {
    const principal = await route.signIn(request, reply);
    if (!principal) return reply;
    const refused = route.hub.refusal(principal.id);
    if (refused) return refuse(reply, refused, route);
    const options = eventSourceOptions(request.query as Record<string, unknown>, request.headers['last-event-id']);

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-store',
      // A buffering proxy (nginx) would hold the events back.
      'X-Accel-Buffering': 'no',
    });
    response.flushHeaders();
    const sink = new EventSourceSink(response, options);
    open.add(sink);
    const watch = new AccountWatch(route.hub, principal, (states) => sink.update(states));
    // A long-lived connection ends when its sign-in is revoked, as IMAP sessions do.
    const check = new SessionCheck(route.mail, principal, {
      log: route.log,
      waiting: () => true,
      revoke: () => sink.end(),
    });
    response.once('close', () => {
      open.delete(sink);
      sink.stop();
      check.stop();
      watch.close();
    });
    return reply;
  });
}

function refuse(reply: FastifyReply, refused: PushRefused, route: EventSourceRoute) {
  if (refused.status === 503) reply.header('Retry-After', '30');
  return route.problem(reply, refused.status, refused.problem());
}
