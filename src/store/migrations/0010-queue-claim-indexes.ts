// Indexes that let the queue runner's claim read only what it takes. Before, each claim scanned every
// due recipient (and joined its message) to find the tenants with work and each tenant's oldest
// entries: O(backlog) per claim, several claims a second while a backlog drains.
// - (state, next_attempt_at, tenant_id): which tenants have due work, from the index alone.
// - (tenant_id, state, next_attempt_at): one tenant's due work of one state, oldest first, read in
//   index order and stopped at the claim's limit.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema.dropIndex('queue_recipients_due').execute();
  await db.schema
    .createIndex('queue_recipients_due')
    .on('queue_recipients')
    .columns(['state', 'next_attempt_at', 'tenant_id'])
    .execute();
  await db.schema
    .createIndex('queue_recipients_tenant_due')
    .on('queue_recipients')
    .columns(['tenant_id', 'state', 'next_attempt_at'])
    .execute();
}
