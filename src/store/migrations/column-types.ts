// The few places where SQLite and PostgreSQL need different column definitions.
import type { ColumnDefinitionBuilder, CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.ts';

export function withId<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect) {
  // SQLite only makes `integer primary key` an alias of the rowid; PostgreSQL wants an identity.
  return dialect === 'sqlite'
    ? table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity());
}

export const binaryType = (dialect: Dialect) => (dialect === 'sqlite' ? 'blob' : 'bytea');

export const notNull = (c: ColumnDefinitionBuilder) => c.notNull();
