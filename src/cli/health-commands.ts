// holdfast health — the state of this installation at a glance, from the terminal: is the store
// answering and how fast, do the configured listeners accept connections, how much mail waits and
// for how long, and which destinations hold it up and why.
import { connect } from 'node:net';
import type { Command } from 'commander';
import { sql } from 'kysely';
import type { Config, ListenerName } from '../config/schema.ts';
import { listenerNames } from '../config/schema.ts';
import { queueBacklog, queueInsight, type DestinationInsight, type QueueBacklog } from '../flow/queue/queue-insight.ts';
import { action, withDirectory } from './context.ts';
import { print } from './output.ts';

interface HealthOverview {
  store: { status: 'ok' | 'unavailable'; latencyMs?: number; error?: string };
  listeners: { name: ListenerName; port: number | 'off'; status: 'accepting' | 'refused' | 'off' | 'not checked' }[];
  queue: QueueBacklog;
  destinations: DestinationInsight[];
}

export function registerHealthCommand(program: Command) {
  action<[]>(program.command('health').description('the store, listeners, queue and waiting destinations at a glance'), (options) =>
    withDirectory(async ({ config, store }) => {
      const started = performance.now();
      let storeStatus: HealthOverview['store'];
      try {
        await sql`select 1`.execute(store.db);
        storeStatus = { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
      } catch (error) {
        storeStatus = { status: 'unavailable', error: (error as Error).message };
      }
      const overview: HealthOverview = {
        store: storeStatus,
        listeners: await Promise.all(listenerNames.map((name) => checkListener(config, name))),
        queue: await queueBacklog(store.db, Date.now()),
        destinations: await queueInsight(store.db, Date.now()),
      };
      print(options, overview, () => overviewText(overview));
    }),
  );
}

/** Whether something accepts connections on a listener's configured port (on this machine). */
async function checkListener(config: Config, name: ListenerName): Promise<HealthOverview['listeners'][number]> {
  const port = config.ports[name];
  if (port === 'off') return { name, port, status: 'off' };
  if (port === 0) return { name, port, status: 'not checked' }; // a free port chosen at start
  const host = config.bind === '0.0.0.0' || config.bind === '::' ? '127.0.0.1' : config.bind;
  const accepting = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  return { name, port, status: accepting ? 'accepting' : 'refused' };
}

function overviewText(o: HealthOverview): string {
  const lines = [
    `store: ${o.store.status}${o.store.latencyMs !== undefined ? ` (${o.store.latencyMs} ms)` : ''}${o.store.error ? `: ${o.store.error}` : ''}`,
    `listeners: ${o.listeners.map((l) => `${l.name} ${l.port === 'off' ? 'off' : `${l.port} ${l.status}`}`).join(', ')}`,
    `queue: ${o.queue.queued} queued, ${o.queue.inFlight} in flight, ${o.queue.deferred} deferred; oldest waiting ${o.queue.oldestAgeSeconds} s`,
  ];
  if (o.destinations.length) lines.push('waiting destinations:', ...o.destinations.map((d) => `  ${d.destination}: ${d.waiting} waiting; ${d.explanation}`));
  const refused = o.listeners.filter((l) => l.status === 'refused');
  if (refused.length) lines.push(`not accepting: ${refused.map((l) => l.name).join(', ')} (is the server running with these roles?)`);
  return lines.join('\n');
}
