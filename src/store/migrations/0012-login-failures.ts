// Failed sign-ins, shared by every node over the store so a guesser cannot spread attempts across
// nodes and `holdfast user unlock` (another process) can clear them. One row per (source address,
// account) with account '' for all failures from the source. Rows are forgotten a while after their
// last failure (login-throttle.ts), so the table stays small.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>) {
  await db.schema
    .createTable('login_failures')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('account', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('login_failures_pk', ['source', 'account'])
    .execute();
  await db.schema
    .createIndex('login_failures_account')
    .on('login_failures')
    .columns(['account', 'last_failure_at'])
    .execute();
  await db.schema.createIndex('login_failures_age').on('login_failures').column('last_failure_at').execute();
}
