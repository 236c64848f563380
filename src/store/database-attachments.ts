// What a database made by openDatabase carries besides its connection: its prepared queries and how
// its commits reach the disk. They hang on the Kysely dialect's adapter, because Kysely makes one
// adapter per database and hands it to every transaction on it, so code given either a database or
// a transaction finds the database's own (no module state keyed by Kysely objects).
import type { Kysely, Dialect as KyselyDialect } from 'kysely';
import type { Database } from './schema.ts';

/** `dialect`, with its adapter carrying `values` under their keys. */
export function carrying(dialect: KyselyDialect, values: Record<symbol, unknown>): KyselyDialect {
  return {
    createDriver: () => dialect.createDriver(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createAdapter: () => Object.assign(dialect.createAdapter(), values),
  };
}

/**
 * What `db` (a database or a transaction) carries under `key`. getExecutor() is Kysely's (typed,
 * documented as internal) and the one place Holdfast reaches past its public API: nothing public
 * leads from a transaction to what its database was made with.
 */
export function carriedBy<T>(db: Kysely<Database>, key: symbol): T {
  const value = (db.getExecutor().adapter as unknown as Record<symbol, unknown>)[key];
  if (value === undefined) throw new Error('not a database made by openDatabase');
  return value as T;
}
