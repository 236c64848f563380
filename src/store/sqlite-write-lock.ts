// Waiting for SQLite's write lock without stopping the thread. When another process (a worker of
// `start --workers`, the CLI) holds the lock, SQLite's own busy handler sleeps 1 to 100 ms at a time
// on the one thread that serves every session of this process, and a write that waits out the whole
// busy_timeout fails with "database is locked" (a sign-in answered [SERVERBUG] under two workers).
// Instead the connection runs with busy_timeout 0: a statement that finds the lock taken fails at
// once with SQLITE_BUSY having done nothing, and is tried again a millisecond later as the event
// loop serves the rest. Past `patienceMs` the last try waits in SQLite (busy_timeout) as before, so a
// writer that keeps losing the race still gets its turn. No pragma is run on the way that does not
// wait (each costs a statement: 4% of the IMAP server's time when run around every BEGIN).

/** The raw connection's pragma call (better-sqlite3). */
export interface PragmaConnection {
  pragma(source: string, options?: { simple: boolean }): unknown;
}

/** SQLITE_BUSY and its extended codes: the statement did nothing and may be run again. */
export const isBusy = (error: unknown) => String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');

/**
 * Runs `statement` (outside a transaction: a BEGIN IMMEDIATE or an autocommit statement) on a
 * connection whose busy_timeout is 0, trying again while another process holds the lock.
 */
export async function withoutBlocking<T>(
  sqlite: PragmaConnection,
  statement: () => T | Promise<T>,
  busyTimeoutMs: number,
  patienceMs = 1000,
): Promise<T> {
  const deadline = performance.now() + patienceMs;
  for (;;) {
    try {
      return await statement();
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
    if (performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  try {
    return await statement();
  } finally {
    sqlite.pragma('busy_timeout = 0');
  }
}
