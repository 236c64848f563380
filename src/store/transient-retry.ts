// PostgreSQL ends a transaction to break a deadlock (40P01) or a serialization conflict (40001); it
// wrote nothing, and the same work run again at once almost always goes through. Retrying here, a
// few times after a short random wait (so the two sides do not meet again in step), keeps these
// errors from reaching callers: a local delivery caught in one used to wait for the queue's retry
// schedule, minutes, for what a second try settles in milliseconds (issue 14 item 16).
// Only for work that can run again from the start: a whole transaction, with no effect outside it
// before it commits.

/** SQLSTATEs of errors that say "nothing was done, try again". */
const transientCodes = new Set(['40P01', '40001']);

export const transientAttempts = 5;

export function isTransient(error: unknown): boolean {
  return transientCodes.has((error as { code?: unknown } | null)?.code as string);
}

export async function retryTransient<T>(work: () => Promise<T>, attempts = transientAttempts): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      // 5 to 25 ms, growing with each attempt: short next to a deadlock's detection (1 s by default).
      await new Promise((resolve) => setTimeout(resolve, attempt * (5 + Math.random() * 20)));
    }
  }
}
