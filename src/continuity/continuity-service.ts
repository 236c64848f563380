// Continuity mode on a node with the queue role. Three rhythms:
//  - every node writes what its deliveries to the upstreams met (upstream-watch.ts) about once a
//    second, and copies the mail of open events into mailboxes as soon as it is committed (the
//    new-mail signal) and at least once a second (continuity-copier.ts; safe on several nodes);
//  - one node (the singleton "continuity") runs the rounds every `continuity.probe_interval`:
//    probe each upstream, decide (event-rules.ts), start, recover, replay and close events, tell
//    service health (event-issue.ts), and remove copies past `continuity.retain`.
import type { Kysely } from 'kysely';
import type { Singletons } from '../cluster/singletons.ts';
import type { Config, ContinuityUpstream } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import { backlogCounts, copyStart, releaseOldestFirst } from '../flow/queue/domain-backlog.ts';
import type { NewMailSignal } from '../flow/queue/new-mail-signal.ts';
import type { IssueAdmin } from '../health/issue-admin.ts';
import type { Logger } from '../logging/logger.ts';
import type { MessageDeps } from '../mailbox/messages.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { copyForEvent } from './continuity-copier.ts';
import { ContinuityEvents, type ContinuityEvent } from './continuity-events.ts';
import { copiesOf } from './continuity-status.ts';
import { removeExpiredCopies } from './copy-retention.ts';
import { postEventState } from './event-issue.ts';
import { decide } from './event-rules.ts';
import { probeUpstream } from './upstream-probe.ts';
import { SentReplay, sentGiveUpMs } from './sent-replay.ts';
import { UpstreamRecords } from './upstream-record.ts';
import type { UpstreamWatch } from './upstream-watch.ts';

export interface ContinuityServiceDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  config: Pick<Config, 'continuity' | 'hostname'>;
  directory: Directory;
  mail: MessageDeps;
  health: IssueAdmin;
  watch: UpstreamWatch;
  newMail: NewMailSignal;
  singletons: Singletons;
  logger: Logger;
  now(): number;
}

/** How often this node writes its observations and looks for mail to copy. */
const tickMs = 1000;
/** After new mail is signalled, the copier waits this long so that a burst is copied together. */
const copyDelayMs = 20;

export class ContinuityService {
  readonly events: ContinuityEvents;
  readonly records: UpstreamRecords;
  private readonly sent: SentReplay;
  private timer?: NodeJS.Timeout;
  private nudgeTimer?: NodeJS.Timeout;
  private stopListening?: () => void;
  private copying?: Promise<void>;
  private copyAgain = false;
  private stopped = false;

  constructor(private readonly deps: ContinuityServiceDeps) {
    this.events = new ContinuityEvents(deps.db);
    this.records = new UpstreamRecords(deps.db, deps.dialect);
    this.sent = new SentReplay({ db: deps.db, blobs: deps.mail.blobs, logger: deps.logger, now: deps.now });
  }

  start() {
    if (this.deps.config.continuity.upstreams.length === 0) return;
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.stopListening = this.deps.newMail.listen(() => this.nudge());
    this.deps.singletons.runAsSingleton('continuity', this.deps.config.continuity.probeIntervalMs, () => this.round());
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.nudgeTimer);
    this.stopListening?.();
    await this.copying;
    await this.flush().catch(() => undefined);
  }

  private nudge() {
    if (this.nudgeTimer || this.stopped) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.copy();
    }, copyDelayMs);
  }

  private async tick() {
    await this.flush().catch((error) =>
      this.deps.logger.warn({ err: error }, 'continuity: could not record what the upstreams answered'),
    );
    this.copy();
  }

  /** Writes this node's observations of the upstreams. */
  private async flush() {
    for (const [name, observations] of this.deps.watch.take())
      if (observations.length) await this.records.record(name, observations);
  }

  /** Copies the mail of open events; one pass at a time, another right after if asked meanwhile. */
  private copy() {
    if (this.stopped) return;
    if (this.copying) {
      this.copyAgain = true;
      return;
    }
    this.copying = this.copyOpenEvents()
      .catch((error) =>
        this.deps.logger.error({ err: error }, 'continuity: copying mail into mailboxes failed; retrying'),
      )
      .finally(() => {
        this.copying = undefined;
        if (this.copyAgain) {
          this.copyAgain = false;
          this.copy();
        }
      });
  }

  private async copyOpenEvents() {
    for (const upstream of this.deps.config.continuity.upstreams) {
      const event = await this.events.open(upstream.name);
      if (!event) continue;
      const copied = await copyForEvent(
        {
          db: this.deps.db,
          directory: this.deps.directory,
          events: this.events,
          publish: (change) => this.deps.mail.changes.publish(change),
          logger: this.deps.logger,
          now: this.deps.now,
        },
        event,
        upstream.domains,
      );
      if (copied)
        this.deps.logger.info(
          { upstream: upstream.name, event: event.id, copied },
          'continuity: mail copied into mailboxes',
        );
    }
  }

  /** One round of the singleton: probe, decide, act, tell, clean up. */
  async round() {
    const { config, logger, now } = this.deps;
    const settings = config.continuity;
    await this.flush();
    for (const upstream of settings.upstreams) {
      const record = await this.probed(upstream);
      const event = await this.events.open(upstream.name);
      const decision = decide(record, event, now(), settings.activateAfterMs);
      const log = logger.child({ upstream: upstream.name });
      if (decision.kind === 'start') {
        const { event: started, started: isNew } = await this.events.start({
          upstream: upstream.name,
          startedBy: 'automatic',
          reason: decision.reason,
          at: now(),
          copyCursor: await copyStart(this.deps.db, upstream.domains),
        });
        if (isNew) {
          log.warn(
            { event: started.id, reason: decision.reason },
            'continuity: event started; mail is delivered here too',
          );
          this.copy();
        }
      } else if (decision.kind === 'recover' && event) {
        if (await this.events.move(event.id, 'active', 'recovering', now(), decision.reason)) {
          const released = await releaseOldestFirst(this.deps.db, upstream.domains, now());
          log.info({ event: event.id, released }, 'continuity: upstream is back; replaying the held mail oldest first');
        }
      } else if (decision.kind === 'reactivate' && event) {
        if (await this.events.move(event.id, 'recovering', 'active', now(), decision.reason))
          log.warn({ event: event.id, reason: decision.reason }, 'continuity: upstream fails again during the replay');
      } else if (decision.kind === 'replay' && event) {
        await this.replay(event, upstream, log);
      }
    }
    await this.tell();
    await removeExpiredCopies({ mail: this.deps.mail, events: this.events, logger }, settings.retainMs, now());
  }

  /**
   * The upstream's record after this round's probe. A probe is left out while the queue's own
   * deliveries to the upstream succeed (one since the last round, none failing since): it would only
   * add a connection to those the upstream limits — during a replay, one it refuses.
   */
  private async probed(upstream: ContinuityUpstream) {
    const { config, logger, now } = this.deps;
    const settings = config.continuity;
    const known = await this.records.get(upstream.name);
    const since = now() - settings.probeIntervalMs;
    if (known.failingSince === null && known.lastReplies.some((r) => r.ok && r.source === 'delivery' && r.at >= since))
      return known;
    const probe = await probeUpstream(upstream, { helo: config.hostname, timeoutMs: settings.probeTimeoutMs });
    if (!probe.ok) logger.warn({ upstream: upstream.name, reply: probe.reply }, 'continuity: upstream probe failed');
    return this.records.record(upstream.name, [{ at: now(), ok: probe.ok, reply: probe.reply, source: 'probe' }]);
  }

  /**
   * Recovering: what the upstream pushed back meanwhile is released again (each round, not at its
   * next retry hours later), and the event closes once nothing queued before the recovery waits and
   * what users sent is in their upstream Sent folder (when [continuity.upstream.sent] is set).
   */
  private async replay(event: ContinuityEvent, upstream: ContinuityUpstream, log: Logger) {
    const now = this.deps.now();
    await releaseOldestFirst(this.deps.db, upstream.domains, now);
    const { waiting } = await backlogCounts(this.deps.db, upstream.domains, {
      before: event.recoveringSince ?? now,
      since: now,
      afterId: event.copyCursor,
    });
    if (waiting > 0 || !(await this.sentItemsUpstream(event, upstream, log))) return;
    if (await this.events.move(event.id, 'recovering', 'closed', this.deps.now())) {
      this.sent.forget(event.id);
      log.info({ event: event.id }, 'continuity: the held mail is with the upstream; event closed');
    }
  }

  /** Appends users' sent items upstream; false while some wait for the upstream's IMAP to answer. */
  private async sentItemsUpstream(event: ContinuityEvent, upstream: ContinuityUpstream, log: Logger) {
    if (!upstream.sent) return true;
    const now = this.deps.now();
    const result = await this.sent.run(event, upstream, now - (event.recoveringSince ?? now) > sentGiveUpMs);
    if (result.appended)
      log.info({ event: event.id, appended: result.appended }, 'continuity: sent items appended upstream');
    if (result.skipped.length)
      log.warn(
        { event: event.id, skipped: result.skipped },
        'continuity: some users’ sent items stay in Holdfast only (their Sent folder upstream could not be reached)',
      );
    return result.waiting === 0;
  }

  /** Posts each event's state changes to service health (one post per change). */
  private async tell() {
    for (const event of await this.events.unposted()) {
      const upstream = this.deps.config.continuity.upstreams.find((u) => u.name === event.upstream);
      if (!upstream) {
        await this.events.setPosted(event.id, event.state, null);
        continue;
      }
      const record = await this.records.get(upstream.name);
      const held = await copiesOf(this.deps.db, event.id);
      const counts = await backlogCounts(this.deps.db, upstream.domains, {
        before: this.deps.now(),
        since: event.recoveringSince ?? event.startedAt,
        afterId: event.copyCursor,
      });
      const issueId = await postEventState(this.deps.health, upstream, event, record, {
        held,
        replayed: counts.deliveredSince,
        waiting: counts.waiting,
      });
      await this.events.setPosted(event.id, event.state, issueId);
    }
  }
}
