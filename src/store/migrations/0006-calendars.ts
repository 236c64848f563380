// Calendars (CalDAV collections) per principal, the iCalendar objects in them with the time span
// each covers (recurrences included) for time-range queries, the change log behind sync tokens
// (RFC 6578), the grants that share a calendar with another principal of the same tenant, and the
// scheduling inbox.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull, withId } from './column-types.ts';

export async function up(db: Kysely<any>, dialect: Dialect) {
  await withId(db.schema.createTable('calendars'), dialect)
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('uri', 'text', notNull) // the collection's path segment under the principal's calendar home
    .addColumn('display_name', 'text')
    .addColumn('description', 'text')
    .addColumn('color', 'text')
    .addColumn('timezone', 'text') // a VCALENDAR with one VTIMEZONE (CALDAV:calendar-timezone)
    .addColumn('components', 'text', notNull) // comma-separated: VEVENT,VTODO
    .addColumn('dead_properties', 'text') // JSON {"{namespace}name": text} that clients set (PROPPATCH)
    .addColumn('sync_seq', 'bigint', notNull) // number of the last change; the sync token and CTag
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('calendars_principal_uri', ['principal_id', 'uri'])
    .execute();
  await db.schema.createIndex('calendars_tenant').on('calendars').column('tenant_id').execute();

  await withId(db.schema.createTable('calendar_objects'), dialect)
    .addColumn('calendar_id', 'bigint', (c) => c.notNull().references('calendars.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('uri', 'text', notNull)
    .addColumn('uid', 'text', notNull)
    .addColumn('component', 'text', notNull) // VEVENT, VTODO or VJOURNAL
    .addColumn('etag', 'text', notNull)
    .addColumn('data', 'text', notNull) // the iCalendar text as the client sent it
    .addColumn('size', 'integer', notNull)
    // The span of time the object covers, every instance included (epoch ms; open ends are the
    // limits of Date). Time-range queries read candidates from these columns, then check instances.
    .addColumn('first_start', 'bigint', notNull)
    .addColumn('last_end', 'bigint', notNull)
    .addColumn('recurring', 'integer', notNull)
    .addColumn('seq', 'bigint', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addColumn('updated_at', 'bigint', notNull)
    .addUniqueConstraint('calendar_objects_uri', ['calendar_id', 'uri'])
    .addUniqueConstraint('calendar_objects_uid', ['calendar_id', 'uid'])
    .execute();
  await db.schema
    .createIndex('calendar_objects_span')
    .on('calendar_objects')
    .columns(['calendar_id', 'first_start', 'last_end'])
    .execute();

  // One row per object URI that ever changed, with the change number that last touched it.
  await db.schema
    .createTable('calendar_changes')
    .addColumn('calendar_id', 'bigint', (c) => c.notNull().references('calendars.id').onDelete('cascade'))
    .addColumn('uri', 'text', notNull)
    .addColumn('seq', 'bigint', notNull)
    .addColumn('deleted', 'integer', notNull)
    .addPrimaryKeyConstraint('calendar_changes_pk', ['calendar_id', 'uri'])
    .execute();
  await db.schema.createIndex('calendar_changes_seq').on('calendar_changes').columns(['calendar_id', 'seq']).execute();

  await db.schema
    .createTable('calendar_grants')
    .addColumn('calendar_id', 'bigint', (c) => c.notNull().references('calendars.id').onDelete('cascade'))
    .addColumn('grantee_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('access', 'text', notNull) // read | write
    .addColumn('created_at', 'bigint', notNull)
    .addPrimaryKeyConstraint('calendar_grants_pk', ['calendar_id', 'grantee_id'])
    .execute();
  await db.schema.createIndex('calendar_grants_grantee').on('calendar_grants').column('grantee_id').execute();

  // Scheduling messages waiting for a principal's client (RFC 6638 schedule inbox): proposals of a
  // new time (COUNTER) and their refusals (DECLINECOUNTER). Invitations and answers go straight
  // onto calendars instead.
  await withId(db.schema.createTable('schedule_inbox'), dialect)
    .addColumn('tenant_id', 'bigint', notNull)
    .addColumn('principal_id', 'bigint', (c) => c.notNull().references('principals.id').onDelete('cascade'))
    .addColumn('uri', 'text', notNull)
    .addColumn('uid', 'text', notNull)
    .addColumn('method', 'text', notNull)
    .addColumn('sender', 'text', notNull)
    .addColumn('etag', 'text', notNull)
    .addColumn('data', 'text', notNull)
    .addColumn('created_at', 'bigint', notNull)
    .addUniqueConstraint('schedule_inbox_uri', ['principal_id', 'uri'])
    .execute();
}
