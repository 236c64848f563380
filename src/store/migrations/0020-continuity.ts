// Continuity mode (docs/continuity.md): what each upstream provider has been answering, the events
// during which Holdfast delivers its domains' mail into mailboxes as well, and the copies those
// events made (so that each queued recipient is copied once, and the copies can be removed later).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  // One row per configured upstream (by name), written by probes and by the queue's attempts.
  await db.schema
    .createTable('continuity_upstreams')
    .addColumn('name', 'text', (c) => c.primaryKey())
    /** Start of the current run of failures (no success since); null while the upstream accepts. */
    .addColumn('failing_since', 'bigint')
    .addColumn('last_success_at', 'bigint')
    .addColumn('last_failure_at', 'bigint')
    /** The upstream's last replies (JSON list, newest last, a few kept): what the incident shows. */
    .addColumn('last_replies', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('probed_at', 'bigint')
    .execute();

  await withId(db.schema.createTable('continuity_events'), dialect)
    .addColumn('upstream', 'text', notNull)
    /** active (the upstream fails: mail is copied into mailboxes), recovering (replaying), closed */
    .addColumn('state', 'text', notNull)
    /** automatic | admin */
    .addColumn('started_by', 'text', notNull)
    .addColumn('reason', 'text', notNull)
    .addColumn('started_at', 'bigint', notNull)
    .addColumn('recovering_since', 'bigint')
    .addColumn('ended_at', 'bigint')
    /** The queue recipient id the copier has looked at everything below. */
    .addColumn('copy_cursor', 'bigint', (c) => c.notNull().defaultTo(0))
    /** The service health issue that tells of the event, and the state its last post told. */
    .addColumn('issue_id', 'text')
    .addColumn('posted_state', 'text')
    .execute();
  // At most one event per upstream is not closed: two nodes starting one at once cannot both succeed.
  await sql`create unique index continuity_events_open on continuity_events (upstream) where state <> 'closed'`.execute(
    db,
  );
  await db.schema.createIndex('continuity_events_ended').on('continuity_events').column('ended_at').execute();

  await db.schema
    .createTable('continuity_copies')
    .addColumn('queue_recipient_id', 'bigint', notNull)
    .addColumn('principal_id', 'bigint', notNull)
    .addColumn('event_id', 'bigint', notNull)
    .addColumn('queue_message_id', 'bigint', notNull)
    .addColumn('mailbox_id', 'bigint')
    .addColumn('uid', 'bigint')
    .addColumn('copied_at', 'bigint', notNull)
    /** When retention removed the copy from the mailbox (null while it is kept). */
    .addColumn('removed_at', 'bigint')
    .addPrimaryKeyConstraint('continuity_copies_pk', ['queue_recipient_id', 'principal_id'])
    .execute();
  await db.schema
    .createIndex('continuity_copies_event')
    .on('continuity_copies')
    .columns(['event_id', 'removed_at'])
    .execute();
}
