// What the HTTP routes read from the running server. The composition root (server/) passes its
// context, which has all of these; the routes name only what they use, so web/ depends on the
// layers below it and not on server/.
import type { Config } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import type { LoginLimiter } from '../directory/login-limiter.ts';
import type { DestinationControl } from '../flow/delivery/destination-control.ts';
import type { HealthMonitor } from '../health/health-monitor.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/store.ts';

export interface WebContext {
  config: Config;
  store: Store;
  directory: Directory;
  logins: LoginLimiter;
  metrics: Metrics;
  health: HealthMonitor;
  /** Remote destinations as this node's queue runner sees them (empty without the queue role). */
  destinations: DestinationControl;
  now(): number;
}
