// Rooms' and equipment's settings (docs/calendar.md, "Rooms and equipment"): a room's capacity and
// each resource's booking policy. One row per resource that has any set; a resource without a row
// books by the defaults (directory/resource-settings.ts).
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import { notNull } from './column-types.ts';

export async function up(db: Kysely<any>, _dialect: Dialect) {
  await db.schema
    .createTable('resource_settings')
    .addColumn('principal_id', 'bigint', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
    .addColumn('tenant_id', 'bigint', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('capacity', 'integer')
    .addColumn('auto_accept', 'integer', notNull)
    .addColumn('allow_conflicts', 'integer', notNull)
    .addColumn('window_days', 'integer', notNull)
    .addColumn('max_duration_minutes', 'integer', notNull)
    .addColumn('allow_recurring', 'integer', notNull)
    // Null: everyone in the tenant may book; else a JSON array of the addresses and groups who may.
    .addColumn('bookers', 'text')
    .addColumn('updated_at', 'bigint', notNull)
    .execute();
  await db.schema.createIndex('resource_settings_tenant').on('resource_settings').column('tenant_id').execute();
}
