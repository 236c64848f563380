// The one context created at start and passed down: configuration, store, directory, logger,
// TLS material and the clock. Nothing else in Holdfast holds global mutable state.
import type { Scheduler } from '../calendar/scheduling/scheduler.ts';
import type { Cluster } from '../cluster/cluster.ts';
import type { Config } from '../config/schema.ts';
import type { HealthMonitor } from '../health/health-monitor.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Directory } from '../directory/directory.ts';
import type { LoginLimiter } from '../directory/login-limiter.ts';
import type { MailDns } from '../flow/dns.ts';
import type { MailFlow } from '../flow/mail-flow.ts';
import type { DestinationControl } from '../flow/delivery/destination-control.ts';
import type { UpstreamWatch } from '../continuity/upstream-watch.ts';
import type { ChangeFeed } from '../mailbox/change-feed.ts';
import type { FolderIndex } from '../mailbox/folder-index.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../logging/logger.ts';
import type { ListenerInfo } from '../net/listen.ts';
import type { TlsMaterial } from '../net/tls-certificate.ts';
import type { MachineLimitsClient } from './machine-limits-client.ts';

export interface Holdfast {
  config: Config;
  store: Store;
  directory: Directory;
  logger: Logger;
  tls: TlsMaterial;
  dns: MailDns;
  flow: MailFlow;
  /** Calendar scheduling: invitations, answers and cancellations between calendars and over iMIP. */
  scheduler: Scheduler;
  /** Mailbox change events (new mail, flags, expunges) for IDLE and push. */
  changes: ChangeFeed;
  /** In-memory copies of folders' message lists, brought up to date by MODSEQ (IMAP SELECT, SEARCH). */
  folderIndex: FolderIndex;
  /** Prometheus metrics: counted by the services, read at each scrape of /metrics. */
  metrics: Metrics;
  /** Service health: probes, issues (incidents and advisories), the status page's view. */
  health: HealthMonitor;
  /** Failed logins, counted across protocols. */
  logins: LoginLimiter;
  /** Remote destinations' concurrency and health as this node's queue runner sees them (empty without the queue role). */
  destinations: DestinationControl;
  /** What the queue's deliveries to continuity upstreams met, until the continuity service records it. */
  upstreamWatch: UpstreamWatch;
  /** This node in the cluster: its registration and heartbeat, and the singleton jobs it may run. */
  cluster: Cluster;
  /** A worker of --workers: per-address, per-forest and per-user limits counted by the primary for the machine (absent: by this process). */
  machineLimits?: MachineLimitsClient;
  now(): number;
}

/** A running part of the server (a protocol's listeners, the queue workers...). */
export interface RunningService {
  listeners: ListenerInfo[];
  /** Stops accepting, lets in-flight work finish; the caller bounds how long it may take. */
  close(): Promise<void>;
  /** Ends whatever is still open after the grace period. */
  forceClose?(): void;
}

export type ServiceStarter = (holdfast: Holdfast) => Promise<RunningService>;
