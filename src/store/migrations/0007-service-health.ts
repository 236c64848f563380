// Service health: the issues (incidents and advisories) Holdfast opens on itself or an administrator
// opens by hand, their timeline posts, the latest result of every check each node runs, and the API
// tokens administrators use instead of a password.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await db.schema
    .createTable('health_issues')
    .addColumn('id', 'text', (c) => c.primaryKey()) // service prefix + number: MF1001
    .addColumn('number', 'bigint', (c) => c.notNull().unique())
    .addColumn('component', 'text', notNull)
    // The automatic rule that opened it ("listener:imap@mail1", "destination:example.net"); null when opened by hand.
    .addColumn('rule', 'text')
    .addColumn('classification', 'text', notNull) // incident | advisory
    .addColumn('origin', 'text', notNull) // customer (this installation) | thirdParty (a remote system)
    .addColumn('status', 'text', notNull)
    .addColumn('title', 'text', notNull)
    .addColumn('impact_description', 'text', notNull)
    .addColumn('feature', 'text', notNull)
    .addColumn('feature_group', 'text', notNull)
    .addColumn('public_summary', 'text', notNull) // what /status may show: no tenant or domain names
    .addColumn('scope', 'text', notNull) // JSON {tenants, forests, regions, nodes}; empty tenants = everyone
    .addColumn('is_resolved', 'integer', notNull)
    .addColumn('start_at', 'bigint', notNull)
    .addColumn('end_at', 'bigint')
    .addColumn('updated_at', 'bigint', notNull)
    .addColumn('created_by', 'text', notNull) // "holdfast" or the administrator's address
    .execute();
  // At most one open issue per rule, even with several nodes evaluating the same rule.
  await db.schema
    .createIndex('health_issues_open_rule')
    .on('health_issues')
    .column('rule')
    .unique()
    .where(sql.ref('is_resolved'), '=', 0)
    .execute();
  await db.schema.createIndex('health_issues_start').on('health_issues').column('start_at').execute();

  await withId(db.schema.createTable('health_issue_posts'), dialect)
    .addColumn('issue_id', 'text', (c) => c.notNull().references('health_issues.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('post_type', 'text', notNull) // regular | quick | strategic
    .addColumn('status', 'text', notNull) // the status when posted
    .addColumn('content', 'text', notNull) // HTML
    .addColumn('author', 'text', notNull)
    .execute();
  await db.schema
    .createIndex('health_issue_posts_issue')
    .on('health_issue_posts')
    .columns(['issue_id', 'created_at'])
    .execute();

  // The last result of each check, per node: `holdfast health` and the API read them.
  await db.schema
    .createTable('health_checks')
    .addColumn('node', 'text', notNull)
    .addColumn('check_name', 'text', notNull)
    .addColumn('component', 'text', notNull)
    .addColumn('state', 'text', notNull) // healthy | recovering | failing
    .addColumn('detail', 'text', notNull)
    .addColumn('latency_ms', 'integer')
    .addColumn('checked_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('health_checks_pk', ['node', 'check_name'])
    .execute();

  await withId(db.schema.createTable('api_tokens'), dialect)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('name', 'text', notNull)
    .addColumn('token_hash', 'text', (c) => c.notNull().unique()) // SHA-256 of the token; the token itself is shown once
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('last_used_at', 'bigint')
    .execute();
}
