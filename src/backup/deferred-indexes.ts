// A new SQLite store is loaded faster without its secondary indexes: each row then goes into its
// table's B-tree only, instead of into every index in turn at a random place (a content hash, a
// folder id). They are made again from their own SQL once the rows are in, which is one sort each;
// a unique index made again still refuses duplicates, so nothing it would have caught goes
// unnoticed. Likewise the triggers whose work is done once for all rows after the load (the
// folders' byte counts: restored-identities.ts recountFolderBytes) instead of once per row; other
// triggers stay. Only for a database built from nothing in one transaction that is thrown away if
// the load fails (store-loader.ts): nothing else ever sees it without its indexes.
import type SqliteDatabase from 'better-sqlite3';
import { quoteIdentifier } from './sql-names.ts';

/** Triggers whose effect the load makes once at its end (recountFolderBytes). */
const recountedTriggers = new Set(['messages_used_bytes_insert']);

/** Drops the indexes (those with SQL of their own) and recounted triggers of these tables; returns what makes them again. */
export function deferIndexesAndTriggers(connection: SqliteDatabase.Database, tables: string[]): () => void {
  const wanted = new Set(tables);
  const dropped = (
    connection
      .prepare(
        `select type, name, tbl_name as "table", sql from sqlite_master where type in ('index', 'trigger') and sql is not null`,
      )
      .all() as { type: 'index' | 'trigger'; name: string; table: string; sql: string }[]
  ).filter((item) => wanted.has(item.table) && (item.type === 'index' || recountedTriggers.has(item.name)));
  for (const { type, name } of dropped) connection.exec(`drop ${type} ${quoteIdentifier(name)}`);
  return () => {
    // Indexes before triggers: a trigger's statements may rely on them.
    for (const { sql } of dropped.filter((item) => item.type === 'index')) connection.exec(sql);
    for (const { sql } of dropped.filter((item) => item.type === 'trigger')) connection.exec(sql);
  };
}
