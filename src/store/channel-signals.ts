// What a PostgresChannel says to its receiver besides the payloads other nodes send, kept apart from
// the channel so that a receiver does not load the PostgreSQL driver on a SQLite node.

/**
 * Given to `onMessage` by the channel itself once its listener is back after losing its connection:
 * payloads sent meanwhile were missed, so a receiver treats everything as possibly changed.
 */
export const resubscribed = '{"resubscribed":true}';
