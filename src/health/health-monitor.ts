// Service health on one node: every [health] probe_interval it runs the checks (listeners, store,
// mail round trip, CalDAV, queue), records their results, lets the incident rules open, move and
// resolve issues, notifies, and refreshes what the status page shows.
//
// Each node checks itself (rules ending "@<node>"), once per node name: processes sharing a name
// and its listeners (workers) leave it to the holder of the lease "health-probes@<name>". What is
// the same for every node (the queue, the nodes of the cluster) is checked and judged by one node,
// the holder of the singleton lease "health" (cluster/singletons.ts), and recorded under the node
// "(shared)"; that node also judges the issues of nodes that left (no node not stopped has their
// name any more), so that an issue of a node that stopped resolves instead of staying open on the
// status page.
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import type { MailDns } from '../flow/dns.ts';
import type { ListenerInfo } from '../net/listen.ts';
import type { Logger } from '../logging/logger.ts';
import type { MessageDeps } from '../mailbox/messages.ts';
import type { Database } from '../store/schema.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { listNodes } from '../cluster/node-registry.ts';
import { checkNodes } from './checks/node-check.ts';
import { cleanUpProbeMail } from './checks/probe-cleanup.ts';
import type { CheckResult, IssueScope } from './check-result.ts';
import { probeCalDav } from './checks/caldav-probe.ts';
import { checkListeners } from './checks/listener-check.ts';
import { probeMail } from './checks/mail-probe.ts';
import { checkProbeAccount, ensureProbeAccount } from './checks/probe-account.ts';
import { withinTime, type ProbeAccount, type ProbeContext } from './checks/probe-context.ts';
import { checkBackups } from './checks/backup-check.ts';
import { checkQueue } from './checks/queue-checks.ts';
import { checkStore } from './checks/store-check.ts';
import { checkFilters } from './checks/filter-check.ts';
import { watchHealth } from './health-metrics.ts';
import { IncidentRules, type IssueAction, type OpenIssueView } from './incident-rules.ts';
import type { IssueAdmin } from './issue-admin.ts';
import { holdfastAuthor, IssueLog, type HealthIssue, type NewIssue } from './issue-log.ts';
import { openingPost, resolvedPost, statusPost } from './issue-posts.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { HealthNotifier } from './notifier.ts';
import { buildSnapshot, historyDays, staleSnapshot, type StatusSnapshot } from './status-snapshot.ts';

export interface HealthMonitorDeps {
  config: Config;
  db: Kysely<Database>;
  /** Mailbox operations (the probe's cleanup), once the node's context exists. */
  mail(): MessageDeps;
  directory: Directory;
  dns: MailDns;
  metrics: Metrics;
  logger: Logger;
  now(): number;
  /** Decides which node runs the shared checks, and lists the nodes. */
  cluster: Cluster;
}

/** The singleton lease whose holder runs the shared checks. */
export const sharedChecksLease = 'health';
/** The node under which the shared checks' results are recorded (health_checks), whoever ran them. */
export const sharedCheckNode = '(shared)';
/** The lease of a node name's own checks, among the processes sharing that name. */
export const probesLease = (node: string) => `health-probes@${node}`;

/** Rules that report only their failures: one absent from a round is healthy. */
const reportsFailuresOnly = (rule: string) =>
  rule.startsWith('destination:') || rule.startsWith('refusals:') || rule.startsWith('node:');

/** The issue a failing check opens, with its first post. */
export function automaticIssue(r: CheckResult, since: number, probeIntervalMs: number): NewIssue {
  return {
    component: r.component,
    rule: r.rule,
    classification: r.issue!.classification,
    origin: r.issue!.origin,
    status: 'investigating',
    title: r.issue!.title,
    impactDescription: r.issue!.impact,
    feature: r.issue!.feature,
    publicSummary: r.issue!.publicSummary,
    scope: r.issue!.scope,
    startAt: since,
    author: holdfastAuthor,
    post: openingPost(r, since, probeIntervalMs),
  };
}

export class HealthMonitor implements IssueAdmin {
  readonly log: IssueLog;
  readonly notifier: HealthNotifier;
  readonly region: string;
  readonly now: () => number;
  private readonly rules: IncidentRules;
  private readonly node: string;
  /** Names of the nodes not stopped, as the last round judging the shared checks saw them. */
  private presentNodes?: Set<string>;
  private listeners: ListenerInfo[] = [];
  private account?: ProbeAccount;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private lastResults: CheckResult[] = [];
  private snapshotCache: StatusSnapshot;
  private installedAt?: number;
  /** Rules whose issue could not be recorded (store down) and were alerted from memory. */
  private readonly alertedUnrecorded = new Set<string>();

  constructor(private readonly deps: HealthMonitorDeps) {
    const { config } = deps;
    this.now = deps.now;
    this.node = config.hostname;
    this.region = config.health.region;
    this.log = new IssueLog(deps.db, deps.now);
    this.notifier = new HealthNotifier({
      settings: config.health,
      dns: deps.dns,
      hostname: config.hostname,
      remotePort: config.queue.remotePort,
      logger: deps.logger,
    });
    this.rules = new IncidentRules(config.health);
    this.snapshotCache = buildSnapshot(deps.now(), [], [], { available: true });
    watchHealth(
      deps.metrics,
      () => ({ results: this.lastResults }),
      () => this.statusSnapshot(),
    );
  }

  /** Starts the probe rounds over this node's listeners (the first a few seconds after start). */
  start(listeners: ListenerInfo[]) {
    this.listeners = listeners;
    if (!this.deps.config.health.enabled) return;
    this.schedule(Math.min(2000, this.deps.config.health.probeIntervalMs));
  }

  /** Stops the rounds; waits briefly for one under way and for notifications being sent, never long. */
  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const settled = Promise.all([this.running, this.notifier.settled()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }

  private schedule(delayMs: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch((error) => this.deps.logger.error({ err: error }, 'service health round failed'))
        .finally(() => this.schedule(this.deps.config.health.probeIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /** One probe round: checks, issue moves, notifications, status page. */
  async round(): Promise<void> {
    const { config, logger } = this.deps;
    const context: ProbeContext = {
      node: this.node,
      db: this.deps.db,
      settings: config.health,
      now: this.now,
      scope: () => this.nodeScope(),
    };
    const { singletons } = this.deps.cluster;
    // Processes sharing a node name (the workers of `start --workers`, on the same listeners) probe
    // it once: whichever holds its lease; all of them when the store cannot say (it may be down).
    const probing = await singletons.contendFor(probesLease(this.node));
    const selfChecks = Boolean(probing.held) || probing.unknown;
    const results: CheckResult[] = selfChecks
      ? [...(await checkListeners(context, this.listeners)), await checkStore(context)]
      : [];
    const storeUp =
      !selfChecks || results.at(-1)!.state === 'healthy' || results.at(-1)!.issue?.classification === 'advisory';
    // Taken now: a lease lost during the round is found by the fence before the shared issues move.
    // Only nodes that run health rounds contend for it (their first round adds it).
    const sharedToken = (await singletons.holds(sharedChecksLease))?.token;
    if (storeUp) {
      const probes = await Promise.allSettled([
        ...(selfChecks ? [this.probes(context)] : []),
        // The scanners intake uses, from the nodes that take mail.
        ...(selfChecks && this.listeners.some((l) => ['smtp', 'submission', 'submissions'].includes(l.name))
          ? [checkFilters(context, this.deps.config.filtering)]
          : []),
        ...(sharedToken === undefined
          ? []
          : [checkQueue(context), this.checkCluster(context), checkBackups(context, this.deps.config.backup)]),
      ]);
      for (const outcome of probes) {
        if (outcome.status === 'fulfilled') results.push(...outcome.value);
        else logger.warn({ err: outcome.reason }, 'a health probe could not run');
      }
    }
    // Stopping while probes ran: their failures are the shutdown's, not news.
    if (this.stopped) return;
    this.lastResults = results;
    for (const r of results) if (r.state === 'healthy') this.alertedUnrecorded.delete(r.rule);
    for (const r of results.filter((r) => r.state !== 'healthy'))
      logger.warn({ check: r.rule, state: r.state, detail: r.detail }, 'health check not healthy');
    try {
      await withinTime(this.record(results, sharedToken !== undefined), 10_000, 'recording the health checks');
      const open = await this.openViews();
      const mine = (rule: string) => rule.endsWith(`@${this.node}`);
      const departed = (rule: string) => {
        const at = rule.lastIndexOf('@');
        return at >= 0 && this.presentNodes !== undefined && !this.presentNodes.has(rule.slice(at + 1));
      };
      let shared = sharedToken !== undefined;
      const owns = (rule: string) => mine(rule) || (shared && (!rule.includes('@') || departed(rule)));
      let actions = this.rules.evaluate(
        this.now(),
        results,
        open,
        owns,
        (rule) => reportsFailuresOnly(rule) || departed(rule),
      );
      if (shared && actions.some((a) => !mine(a.kind === 'open' ? a.result.rule : ruleOf(open, a.issueId)))) {
        // A node that lost the lease mid-round (it paused, another took over) leaves the shared issues alone.
        shared = await singletons
          .lease(sharedChecksLease)
          .fence(this.deps.db, sharedToken!)
          .then(
            () => true,
            () => false,
          );
        if (!shared) actions = actions.filter((a) => mine(a.kind === 'open' ? a.result.rule : ruleOf(open, a.issueId)));
      }
      for (const action of actions) await this.apply(action);
    } catch (error) {
      logger.error({ err: error }, 'service health: the store could not record checks or issues');
      this.alertFromMemory(results);
    }
    await this.refreshSnapshot();
  }

  /** The nodes of the cluster: one check each, and which node names are still present. */
  private async checkCluster(context: ProbeContext): Promise<CheckResult[]> {
    const nodes = await listNodes(this.deps.db, this.now());
    this.presentNodes = new Set(nodes.filter((n) => n.state !== 'stopped').map((n) => n.name));
    return checkNodes(context, nodes);
  }

  /** The probes that need the probe account: the mail round trip and CalDAV. */
  private async probes(context: ProbeContext): Promise<CheckResult[]> {
    const account = (this.account ??= await ensureProbeAccount(this.deps.directory, this.node));
    const [mail, caldav] = await Promise.all([
      probeMail(context, this.listeners, account),
      probeCalDav(context, this.listeners, account),
    ]);
    await cleanUpProbeMail(this.deps.mail(), account, this.now()).catch((error) =>
      this.deps.logger.warn({ err: error }, 'probe mail cleanup failed'),
    );
    const accountCheck = await checkProbeAccount(this.deps.directory, this.node, account, [...mail, ...caldav]);
    if (accountCheck.state === 'healthy') return [accountCheck, ...mail, ...caldav];
    // The probes' failures were the account's: drop them, and set the account up again next round.
    this.account = undefined;
    return [accountCheck];
  }

  private nodeScope(): IssueScope {
    return { tenants: [], forests: [], regions: [this.region], nodes: [this.node] };
  }

  private async record(results: CheckResult[], shared: boolean) {
    const at = this.now();
    for (const r of results) {
      const node = r.rule.includes('@') ? this.node : sharedCheckNode;
      await this.deps.db
        .insertInto('health_checks')
        .values({
          node,
          check_name: r.rule,
          component: r.component,
          state: r.state,
          detail: r.detail,
          latency_ms: r.latencyMs ?? null,
          checked_at: at,
        })
        .onConflict((oc) =>
          oc.columns(['node', 'check_name']).doUpdateSet({
            component: r.component,
            state: r.state,
            detail: r.detail,
            latency_ms: r.latencyMs ?? null,
            checked_at: at,
          }),
        )
        .execute();
    }
    if (!shared) return;
    // Destinations that no longer wait or refuse, and nodes that stopped, are no longer checks; nor
    // are shared checks recorded under a node's name (by versions before the cluster registry); nor
    // a node's own checks once the node has stopped or been forgotten (its last results would
    // otherwise stay among the failing checks for good).
    const current = results.map((r) => r.rule);
    const db = this.deps.db;
    await db
      .deleteFrom('health_checks')
      .where((eb) =>
        eb.or([
          eb.and([
            eb('node', '!=', sharedCheckNode),
            eb('node', '!=', this.node),
            eb('node', 'not in', db.selectFrom('cluster_nodes').select('name').where('stopped_at', 'is', null)),
          ]),
          eb.and([
            eb('node', '=', sharedCheckNode),
            eb.or([
              eb('check_name', 'like', 'destination:%'),
              eb('check_name', 'like', 'refusals:%'),
              eb('check_name', 'like', 'node:%'),
            ]),
            eb('check_name', 'not in', current.length ? current : ['']),
          ]),
          eb.and([eb('node', '!=', sharedCheckNode), eb('check_name', 'not like', '%@%')]),
        ]),
      )
      .execute();
  }

  private async openViews(): Promise<OpenIssueView[]> {
    const open = await this.log.list({ openOnly: true });
    return open
      .filter((i): i is HealthIssue & { rule: string } => i.rule !== null)
      .map((i) => ({
        id: i.id,
        rule: i.rule,
        classification: i.classification,
        status: i.status,
        updatedAt: i.updatedAt,
        statusByHoldfast: i.posts.at(-1)?.author === holdfastAuthor,
      }));
  }

  private async apply(action: IssueAction) {
    const { health } = this.deps.config;
    if (action.kind === 'open') {
      const issue = await this.log.open(automaticIssue(action.result, action.since, health.probeIntervalMs));
      if (issue) {
        this.deps.logger.warn(
          { issue: issue.id, classification: issue.classification, title: issue.title },
          'service health issue opened',
        );
        this.notifier.notify('issue.opened', issue);
      }
      return;
    }
    const current = await this.log.require(action.issueId);
    if (action.kind === 'resolve') {
      const issue = await this.log.setStatus(action.issueId, 'serviceRestored', {
        from: action.from,
        author: holdfastAuthor,
        post: resolvedPost(current.startAt, this.now(), action.healthySince),
      });
      if (issue) {
        this.deps.logger.info({ issue: issue.id }, 'service health issue resolved');
        this.notifier.notify('issue.resolved', issue);
      }
      return;
    }
    const issue = await this.log.setStatus(action.issueId, action.to, {
      from: action.from,
      author: holdfastAuthor,
      classification: action.escalate ? 'incident' : undefined,
      post: statusPost(action.to, action.result, {
        startAt: current.startAt,
        healthySince: action.healthySince,
        resolveAfterMs: health.resolveAfterMs,
        escalate: action.escalate,
      }),
    });
    if (issue) {
      this.deps.logger.warn({ issue: issue.id, status: issue.status }, 'service health issue status changed');
      this.notifier.notify('issue.updated', issue);
    }
  }

  /**
   * With the store down no issue can be recorded: a check failing that long is alerted once from
   * memory, so the people who must act hear of it anyway.
   */
  private alertFromMemory(results: CheckResult[]) {
    for (const r of results.filter((r) => r.state === 'failing' && r.issue?.classification === 'incident')) {
      if (this.alertedUnrecorded.has(r.rule)) continue;
      this.alertedUnrecorded.add(r.rule);
      const at = this.now();
      this.notifier.notify('issue.opened', {
        id: 'UNRECORDED',
        component: r.component,
        rule: r.rule,
        classification: 'incident',
        origin: r.issue!.origin,
        status: 'investigating',
        title: r.issue!.title,
        impactDescription: r.issue!.impact,
        feature: r.issue!.feature,
        featureGroup: 'Platform',
        publicSummary: r.issue!.publicSummary,
        scope: r.issue!.scope,
        isResolved: false,
        startAt: at,
        endAt: null,
        updatedAt: at,
        createdBy: holdfastAuthor,
        posts: [
          {
            createdAt: at,
            postType: 'regular',
            status: 'investigating',
            content: openingPost(r, at, this.deps.config.health.probeIntervalMs),
            author: holdfastAuthor,
          },
        ],
      });
    }
  }

  /** When the store was created: its first schema version's time. */
  private async installationTime(): Promise<number | undefined> {
    const row = await this.deps.db
      .selectFrom('holdfast_schema')
      .select((eb) => eb.fn.min('applied_at').as('first'))
      .executeTakeFirst();
    return row?.first === null || row?.first === undefined ? undefined : Number(row.first);
  }

  /** The status page's view: from the store when it answers in time, else the last one, marked. */
  async statusSnapshot(): Promise<StatusSnapshot> {
    await this.refreshSnapshot();
    return this.snapshotCache;
  }

  private async refreshSnapshot() {
    const now = this.now();
    const failing = this.lastResults.filter((r) => r.state === 'failing' && r.issue?.classification === 'incident');
    const previous = this.snapshotCache;
    const down = (error: string) => ({
      available: false,
      error,
      since: previous.store.available ? now : previous.store.since,
    });
    // Reads may still work while writes fail (a locked or full database): the store check says which.
    const storeCheck = this.lastResults.find(
      (r) => r.component === 'Store' && r.state === 'failing' && r.issue?.classification === 'incident',
    );
    try {
      const issues = await withinTime(
        this.log.list({ since: now - historyDays * 86_400_000 }),
        2000,
        'reading the service health issues',
      );
      this.installedAt ??= await this.installationTime();
      this.snapshotCache = buildSnapshot(
        now,
        issues,
        failing,
        storeCheck ? down(storeCheck.detail) : { available: true },
        this.installedAt,
      );
    } catch (error) {
      this.snapshotCache = staleSnapshot(previous, now, failing, down((error as Error).message.split('\n')[0]!));
    }
  }
}

function ruleOf(open: OpenIssueView[], issueId: string): string {
  return open.find((i) => i.id === issueId)?.rule ?? '';
}
