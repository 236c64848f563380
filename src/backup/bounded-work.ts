// A bound on work run concurrently: the backup's copies and the restore's content files.

/**
 * Work started and not awaited one by one, at most `limit` at once and holding at most about
 * `byteLimit` bytes: `add` waits while either is reached. The first failure is thrown by the next
 * `add` or by `all`; `settled` waits for the rest whatever happened (nothing may still run when a
 * failed load is rolled back).
 */
export class BoundedWork {
  private readonly running = new Set<Promise<void>>();
  private bytes = 0;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly limit: number,
    private readonly byteLimit = Number.POSITIVE_INFINITY,
  ) {}

  /** `work` holding `bytes` of memory until it ends; waits while the limits are reached. */
  async add(work: Promise<unknown>, bytes = 0): Promise<void> {
    const tracked = work.then(
      () => {},
      (error) => {
        this.failure ??= { error };
      },
    );
    this.running.add(tracked);
    this.bytes += bytes;
    tracked.finally(() => {
      this.running.delete(tracked);
      this.bytes -= bytes;
    });
    while (this.running.size >= this.limit || (this.bytes >= this.byteLimit && this.running.size > 0))
      await Promise.race(this.running);
    this.throwIfFailed();
  }

  async all(): Promise<void> {
    await this.settled();
    this.throwIfFailed();
  }

  async settled(): Promise<void> {
    await Promise.all(this.running);
  }

  private throwIfFailed() {
    if (this.failure) throw this.failure.error;
  }
}
