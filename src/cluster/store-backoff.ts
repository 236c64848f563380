// How often a node's cluster writes (heartbeat, lease renewals) try again while the store fails
// them. On SQLite a write to a file another process has locked blocks the one thread for the busy
// timeout (5 s) at each try, so trying at every heartbeat, for every lease, would leave the node
// little time to serve. After a failure the next try waits one lease: by then the node's leases
// have run out anyway, and it notices within a lease that the store is back.
export class StoreBackoff {
  private until = 0;

  constructor(private readonly waitMs: number) {}

  /** Whether the next try should wait. */
  get waiting(): boolean {
    return performance.now() < this.until;
  }

  failed() {
    this.until = performance.now() + this.waitMs;
  }

  succeeded() {
    this.until = 0;
  }
}
