// Tells apart the errors that mean "the database cannot be reached right now" (its server is down,
// restarting, being switched over, or the network to it is cut) from every other failure. Protocols
// answer these with their temporary failure (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], HTTP 503) and
// the client tries again; nothing was stored. Anything else stays an internal error.

/** SQLSTATEs of a server that is going away or not there yet (besides class 08, connection exceptions). */
const unavailableStates = new Set([
  '57P01', // admin_shutdown: the server is stopping (a switchover, a restart)
  '57P02', // crash_shutdown: another backend crashed and the server restarts
  '57P03', // cannot_connect_now: starting up or in recovery
  '53300', // too_many_connections: every node reconnecting at once after a failover
  '25006', // read_only_sql_transaction: a connection that ended up on a standby (demoted primary)
]);

/** Socket-level errors (Node's codes) on the way to the database. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'EADDRNOTAVAIL',
]);

/** What pg says when its connection ends under it (it gives these no code). */
const connectionMessages = [
  /^Connection terminated/, // unexpectedly / due to connection timeout
  /^timeout exceeded when trying to connect/, // the pool's connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /^Connection ended unexpectedly/,
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/,
];

export function isStoreUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (unavailableStates.has(code) || (code.startsWith('08') && code !== '08P01') || socketCodes.has(code))
        return true;
    }
    if (typeof message === 'string' && connectionMessages.some((m) => m.test(message))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
