// BEGIN IMMEDIATE without stopping the thread. When another process (a worker of `start --workers`,
// the CLI) holds SQLite's write lock, SQLite waits for it in its busy handler: a sleep of 1 to 100 ms
// on the one thread that serves every session of this process (with two workers under
// bench/smtp-intake, a tenth of each worker's time). Instead the lock is tried without waiting and,
// while another process holds it, tried again a millisecond later as the event loop serves the rest.
// Past `patienceMs` the last try waits in SQLite (busy_timeout) as before, so a writer that keeps
// losing the race still gets its turn.

/** The raw connection's pragma call (better-sqlite3). */
export interface PragmaConnection {
  pragma(source: string, options?: { simple: boolean }): unknown;
}

export async function beginWithoutBlocking(
  sqlite: PragmaConnection,
  begin: () => unknown,
  busyTimeoutMs: number,
  patienceMs = 1000,
): Promise<void> {
  const deadline = performance.now() + patienceMs;
  for (;;) {
    let begun: unknown;
    let busy = false;
    // The statement runs synchronously (better-sqlite3) between the two pragmas: no other statement
    // of this process runs with busy_timeout 0.
    sqlite.pragma('busy_timeout = 0');
    try {
      begun = begin();
    } catch (error) {
      busy = (error as { code?: string }).code === 'SQLITE_BUSY';
      if (!busy) throw error;
    } finally {
      sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
    if (!busy) return void (await begun);
    if (performance.now() >= deadline) return void (await begin());
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
