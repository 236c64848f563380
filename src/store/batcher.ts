// Writes that arrive together are written together: callers that come in the same turn of the event
// loop, or while a batch is being written, go into the next batch, so they share one transaction or
// one fsync instead of paying one each. One batch at a time by default (a second writer on SQLite
// would only wait for the write lock); on a database server, where much of a batch's time is round
// trips, a second batch may be written while the first one commits. Each caller's promise settles
// with its own item's result, after the batch it went into.
export class ItemFailed {
  constructor(readonly error: unknown) {}
}

/** Writes a batch; resolves with one result per item, in order (an ItemFailed fails that item alone), or throws to fail them all. */
export type BatchWriter<T, R> = (items: T[]) => Promise<(R | ItemFailed)[]>;

export class Batcher<T, R = void> {
  private waiting: { item: T; resolve(result: R): void; reject(error: unknown): void }[] = [];
  /** Drain loops under way; counted as they start and end, so an item added at any moment finds one. */
  private writers = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly write: BatchWriter<T, R>,
    private readonly maxItems = Number.POSITIVE_INFINITY,
    /** Batches written at the same time, at most. */
    private readonly maxWriting = 1,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.writers < this.maxWriting) {
        this.writers++;
        const drained = this.drain();
        this.running.add(drained);
        void drained.then(() => this.running.delete(drained));
      }
    });
  }

  /** Resolves once nothing waits and no batch is being written. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }

  private async drain() {
    while (this.waiting.length) {
      // The rest of this turn joins the batch.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.waiting.splice(0, this.maxItems);
      try {
        const results = await this.write(batch.map((w) => w.item));
        batch.forEach((w, i) => {
          const result = results[i];
          if (result instanceof ItemFailed) w.reject(result.error);
          else w.resolve(result as R);
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    // In the same turn as the last check: an item added after it starts a new loop.
    this.writers--;
  }
}
