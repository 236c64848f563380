// holdfast health — the state of this installation at a glance, from the terminal: each component's
// status, the active incidents and advisories, the store and listeners, how much mail waits and
// which destinations hold it up. Subcommands list and act on issues like the HTTP API does.
import type { Command } from 'commander';
import { sql } from 'kysely';
import type { Config, ListenerName } from '../config/schema.ts';
import { listenerNames } from '../config/schema.ts';
import { createMailDns } from '../flow/dns.ts';
import { queueBacklog, queueInsight, type DestinationInsight, type QueueBacklog } from '../flow/queue/queue-insight.ts';
import { acceptsConnections, implicitTls, localHost } from '../health/checks/tcp-reachable.ts';
import { components, statusWords } from '../health/components.ts';
import { componentHealth, graphIssue, type ComponentHealth } from '../health/graph-shape.ts';
import { openIssueByHand, updateIssue, type IssueAdmin } from '../health/issue-admin.ts';
import { IssueLog, type HealthIssue } from '../health/issue-log.ts';
import { isoTime, postText } from '../health/issue-posts.ts';
import { HealthNotifier } from '../health/notifier.ts';
import { createLogger } from '../logging/logger.ts';
import type { Store } from '../store/store.ts';
import { action, withDirectory } from './context.ts';
import { print, table } from './output.ts';

interface FailingCheck {
  node: string;
  check: string;
  component: string;
  state: string;
  detail: string;
  checkedAt: string;
}

interface HealthOverview {
  components: ComponentHealth[];
  issues: ReturnType<typeof graphIssue>[];
  failingChecks: FailingCheck[];
  store: { status: 'ok' | 'unavailable'; latencyMs?: number; error?: string };
  listeners: { name: ListenerName; port: number | 'off'; status: 'accepting' | 'refused' | 'off' | 'not checked' }[];
  queue: QueueBacklog;
  destinations: DestinationInsight[];
}

const historyMs = 30 * 86_400_000;

export function registerHealthCommand(program: Command) {
  const health = program.command('health').description('service health: components, incidents and advisories, queue');

  action<[]>(
    health
      .command('overview', { isDefault: true })
      .description('components, active issues, store, listeners and queue at a glance'),
    (options) =>
      withDirectory(async ({ config, store }) => {
        const started = performance.now();
        let storeStatus: HealthOverview['store'];
        try {
          await sql`select 1`.execute(store.db);
          storeStatus = { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
        } catch (error) {
          storeStatus = { status: 'unavailable', error: (error as Error).message };
        }
        const active = await new IssueLog(store.db, Date.now).list({ openOnly: true });
        const overview: HealthOverview = {
          components: componentHealth(active),
          issues: active.map((i) => graphIssue(i, {})),
          failingChecks: await failingChecks(store),
          store: storeStatus,
          listeners: await Promise.all(listenerNames.map((name) => checkListener(config, name))),
          queue: await queueBacklog(store.db, Date.now()),
          destinations: await queueInsight(store.db, Date.now()),
        };
        print(options, overview, () => overviewText(overview, active));
      }),
  );

  action<[]>(
    health
      .command('issues')
      .description('active issues and those of the last 30 days')
      .option('--all', 'every issue ever recorded'),
    (options) =>
      withDirectory(async ({ store }) => {
        const issues = await new IssueLog(store.db, Date.now).list(
          options.all ? {} : { since: Date.now() - historyMs },
        );
        print(
          options,
          issues.map((i) => graphIssue(i, {})),
          () =>
            table(
              ['ID', 'TYPE', 'STATUS', 'AREA', 'STARTED', 'TITLE'],
              issues.map((i) => [
                i.id,
                i.classification,
                statusWords[i.status],
                i.featureGroup === 'Platform' ? i.feature : `${i.featureGroup} / ${i.feature}`,
                isoTime(i.startAt),
                i.title,
              ]),
            ),
        );
      }),
  );

  action<[string]>(health.command('show <id>').description('one issue with its timeline'), (id, options) =>
    withDirectory(async ({ store }) => {
      const issue = await new IssueLog(store.db, Date.now).require(id);
      print(options, graphIssue(issue, {}), () => issueText(issue));
    }),
  );

  action<[]>(
    health
      .command('open')
      .description('open an issue by hand (notified like automatic ones)')
      .requiredOption('--component <component>', `one of ${components.map((c) => c.id).join(', ')}`)
      .requiredOption('--title <text>', 'one line: what is wrong')
      .requiredOption('--impact <text>', 'one sentence: what users notice')
      .option('--classification <kind>', 'incident or advisory', 'incident')
      .option('--status <status>', 'investigating, serviceDegradation, serviceInterruption…', 'investigating')
      .option('--message <text>', 'the first update')
      .option('--tenant <name...>', 'the affected tenants (default: everyone)'),
    (options) =>
      withIssueAdmin(async (admin) => {
        const issue = await openIssueByHand(admin, {
          component: options.component,
          title: options.title,
          impact: options.impact,
          classification: options.classification,
          status: options.status,
          message: options.message,
          tenants: options.tenant,
          author: 'cli',
        });
        print(options, graphIssue(issue, {}), () => `opened ${issue.id}: ${issue.title}`);
      }),
  );

  action<[string]>(
    health
      .command('post <id>')
      .description('post an update on an issue, optionally changing its status')
      .requiredOption('--message <text>', 'the update')
      .option('--status <status>', 'a new status, e.g. restoringService, serviceRestored, falsePositive')
      .option('--type <postType>', 'regular, quick or strategic', 'regular'),
    (id, options) =>
      withIssueAdmin(async (admin) => {
        const issue = await updateIssue(admin, id, {
          message: options.message,
          status: options.status,
          postType: options.type,
          author: 'cli',
        });
        print(
          options,
          graphIssue(issue, {}),
          () => `${issue.id}: ${statusWords[issue.status]}${issue.isResolved ? ' (resolved)' : ''}`,
        );
      }),
  );

  action<[string, string]>(
    health.command('status <id> <status>').description("change an issue's status").option('--message <text>', 'why'),
    (id, status, options) =>
      withIssueAdmin(async (admin) => {
        const issue = await updateIssue(admin, id, { status, message: options.message, author: 'cli' });
        print(
          options,
          graphIssue(issue, {}),
          () => `${issue.id}: ${statusWords[issue.status]}${issue.isResolved ? ' (resolved)' : ''}`,
        );
      }),
  );
}

/** Issue changes from the terminal, notified (webhooks, alert mail) before the command returns. */
function withIssueAdmin(fn: (admin: IssueAdmin) => Promise<void>) {
  return withDirectory(async ({ config, store }) => {
    const notifier = new HealthNotifier({
      settings: config.health,
      dns: createMailDns(config.dnsServers),
      hostname: config.hostname,
      remotePort: config.queue.remotePort,
      logger: createLogger({ level: 'warn', format: 'auto' }),
    });
    await fn({ log: new IssueLog(store.db, Date.now), notifier, now: Date.now, region: config.health.region });
    await notifier.settled();
  });
}

async function failingChecks(store: Store): Promise<FailingCheck[]> {
  const rows = await store.db
    .selectFrom('health_checks')
    .selectAll()
    .where('state', '!=', 'healthy')
    .orderBy('component')
    .execute();
  return rows.map((r) => ({
    node: r.node,
    check: r.check_name,
    component: r.component,
    state: r.state,
    detail: r.detail,
    checkedAt: isoTime(Number(r.checked_at)),
  }));
}

/** Whether something accepts connections on a listener's configured port (on this machine). */
async function checkListener(config: Config, name: ListenerName): Promise<HealthOverview['listeners'][number]> {
  const port = config.ports[name];
  if (port === 'off') return { name, port, status: 'off' };
  if (port === 0) return { name, port, status: 'not checked' }; // a free port chosen at start
  return {
    name,
    port,
    status: (await acceptsConnections(localHost(config.bind), port, { tls: implicitTls.includes(name) }))
      ? 'accepting'
      : 'refused',
  };
}

function overviewText(o: HealthOverview, active: HealthIssue[]): string {
  const lines = ['components:', ...o.components.map((c) => `  ${c.name.padEnd(30)} ${statusWords[c.status]}`)];
  lines.push(active.length ? 'active issues:' : 'active issues: none');
  for (const i of active)
    lines.push(`  ${i.id} ${i.classification} · ${statusWords[i.status]} · since ${isoTime(i.startAt)}: ${i.title}`);
  if (o.failingChecks.length)
    lines.push(
      'checks not healthy:',
      ...o.failingChecks.map((c) => `  ${c.check} (${c.state}, ${c.checkedAt}): ${c.detail}`),
    );
  lines.push(
    `store: ${o.store.status}${o.store.latencyMs !== undefined ? ` (${o.store.latencyMs} ms)` : ''}${o.store.error ? `: ${o.store.error}` : ''}`,
    `listeners: ${o.listeners.map((l) => `${l.name} ${l.port === 'off' ? 'off' : `${l.port} ${l.status}`}`).join(', ')}`,
    `queue: ${o.queue.queued} queued, ${o.queue.inFlight} in flight, ${o.queue.deferred} deferred; oldest waiting ${o.queue.oldestAgeSeconds} s`,
  );
  if (o.destinations.length)
    lines.push(
      'waiting destinations:',
      ...o.destinations.map((d) => `  ${d.destination}: ${d.waiting} waiting; ${d.explanation}`),
    );
  const refused = o.listeners.filter((l) => l.status === 'refused');
  if (refused.length)
    lines.push(`not accepting: ${refused.map((l) => l.name).join(', ')} (is the server running with these roles?)`);
  return lines.join('\n');
}

function issueText(i: HealthIssue): string {
  const scope = [
    i.scope.tenants.length ? `tenants ${i.scope.tenants.join(', ')}` : 'all tenants',
    ...(i.scope.forests.length ? [`forests ${i.scope.forests.join(', ')}`] : []),
    ...(i.scope.nodes.length ? [`nodes ${i.scope.nodes.join(', ')}`] : []),
  ].join('; ');
  return [
    `${i.id}  ${i.title}`,
    `  ${i.classification}, ${statusWords[i.status]}${i.isResolved ? ' (resolved)' : ''}; ${i.featureGroup} / ${i.feature}; origin ${i.origin}`,
    `  started ${isoTime(i.startAt)}${i.endAt ? `, ended ${isoTime(i.endAt)}` : ''}; updated ${isoTime(i.updatedAt)}; opened by ${i.createdBy}`,
    `  affects ${scope}`,
    `  impact: ${i.impactDescription}`,
    '',
    ...i.posts.flatMap((p) => [
      `${isoTime(p.createdAt)}  ${statusWords[p.status]}  (${p.author})`,
      ...postText(p.content)
        .split('\n')
        .map((l) => `  ${l}`),
      '',
    ]),
  ].join('\n');
}
