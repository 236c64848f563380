// Which tables a backup carries, their columns, and the order a restore loads them in, read from the
// database's own catalog: a table a later migration adds is carried without a change here (unless
// it is listed below as one that must not be).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';

/**
 * Tables that are not copied, and why. What they hold is either carried another way, derived, or
 * belongs to the processes of the source installation, which a restore does not bring back.
 */
export const tablesNotCopied: Record<string, string> = {
  holdfast_schema: 'the schema version is in the manifest; a restore creates the schema by migrating',
  blobs: "contents go to the backup's content pool and back through the target's blob store",
  blob_chunks: "contents go to the backup's content pool and back through the target's blob store",
  blob_text: 'the full-text index of stores before schema version 25, which nothing read (migration 25 drops it)',
  cluster_nodes: 'the processes that ran the source; restored, they would show as silent nodes',
  singleton_leases: 'leases of those processes; the nodes of the target take them afresh',
  health_checks: "each node's latest check results, made again within a probe round",
  login_failures: 'short-lived sign-in throttling',
  content_holds: 'backups running on the source',
  backup_runs: "the schedule's record of the source's backups; the target keeps its own from its first",
  jmap_uploads:
    'JMAP uploads, kept a day for the client that made them to import or attach; their contents are not in the backup',
  web_sessions: 'web app sign-ins: restored, a signed-out or stolen cookie would open the mailbox again',
};

/** SQLite's own tables, and the shadow tables of the FTS5 index of stores before schema version 25. */
const internalTable = (name: string) => name.startsWith('sqlite_') || name.startsWith('blob_text_');

export interface TableInfo {
  name: string;
  columns: string[];
}

/** The tables to copy with their columns, each after the tables it refers to. */
export async function tablesToCopy(db: Kysely<Database>, dialect: Dialect): Promise<TableInfo[]> {
  const names = (await tableNames(db, dialect)).filter((n) => !(n in tablesNotCopied) && !internalTable(n));
  const references = await foreignKeys(db, dialect);
  const ordered = loadOrder(names, references);
  return Promise.all(ordered.map(async (name) => ({ name, columns: await columnsOf(db, dialect, name) })));
}

export async function tableNames(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return rows.map((r) => r.name);
}

export async function columnsOf(db: Kysely<Database>, dialect: Dialect, table: string): Promise<string[]> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from pragma_table_info(${table}) order by cid`.execute(db)
      : await sql<{ name: string }>`select column_name as name from information_schema.columns
          where table_schema = current_schema() and table_name = ${table} order by ordinal_position`.execute(db);
  return rows.map((r) => r.name);
}

/** [table, table it refers to] for every foreign key. */
async function foreignKeys(db: Kysely<Database>, dialect: Dialect): Promise<[string, string][]> {
  if (dialect === 'sqlite') {
    const { rows } = await sql<{ name: string; ref: string }>`select m.name, f."table" as ref
      from sqlite_master m, pragma_foreign_key_list(m.name) f where m.type = 'table'`.execute(db);
    return rows.map((r) => [r.name, r.ref]);
  }
  const { rows } = await sql<{ name: string; ref: string }>`select c.relname as name, r.relname as ref
    from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
    where k.contype = 'f' and k.connamespace = current_schema()::regnamespace`.execute(db);
  return rows.map((r) => [r.name, r.ref]);
}

/** `names` ordered so that each comes after those it refers to (by name where free to choose). */
export function loadOrder(names: string[], references: [string, string][]): string[] {
  const pending = new Set(names);
  const dependsOn = new Map(names.map((n) => [n, new Set<string>()]));
  for (const [from, to] of references) if (from !== to && pending.has(to)) dependsOn.get(from)?.add(to);
  const ordered: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter((n) => [...dependsOn.get(n)!].every((d) => !pending.has(d))).sort();
    // A cycle of foreign keys (none today): the rest in name order, the database will say what fails.
    const next = ready.length > 0 ? ready : [...pending].sort();
    for (const name of next) {
      ordered.push(name);
      pending.delete(name);
    }
  }
  return ordered;
}
