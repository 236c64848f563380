// "New mail is in the queue": the intake committer raises it after each commit, and the queue
// runner of this node, if it runs one, listens to claim the mail at once instead of at its next poll.
export class NewMailSignal {
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` at each raise until the returned function is called. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  raise() {
    for (const listener of this.listeners) listener();
  }
}
