// Nodes that know each other, and work that must run once across them (issue 17 items 3 and 4).
//
// `cluster_nodes`: one row per running process (a node), written at start, its heartbeat refreshed
// every [cluster] heartbeat, marked stopped on a clean stop. A row whose heartbeat stops without a
// stop is a node that died or hangs: service health reports it.
//
// `singleton_leases`: one row per job that must run on one node at a time (housekeeping, delay
// notices, the shared health checks). The holder renews its lease before it expires; another node
// takes an expired one and raises `token`. Every write of the job first checks holder and token in
// its own transaction, so a holder that paused past its lease (and was replaced) cannot write.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('cluster_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('heartbeat_ms', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .addColumn('stopped_at', 'bigint')
    .execute();
  await db.schema
    .createTable('singleton_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text')
    .addColumn('token', 'bigint', (c) => c.notNull())
    .addColumn('acquired_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_run_at', 'bigint')
    .execute();
}
