// What a restore or copy target already holds. Both write only into an empty database: they never
// merge into, or overwrite, a store someone may still need; a refusal names what is there.
import { existsSync, statSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { conflict, unavailable } from '../errors.ts';
import { describeLocation, openDatabase, type StoreLocation } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { tableNames } from './table-catalog.ts';

/** What the target holds, in words, or undefined when it is empty. */
export async function targetContents(location: StoreLocation): Promise<string | undefined> {
  if (location.kind === 'sqlite') {
    if (!existsSync(location.path) || statSync(location.path).size === 0) return undefined;
    const connection = new SqliteDatabase(location.path, { readonly: true, fileMustExist: true });
    try {
      const names = (
        connection.prepare(`select name from sqlite_master where type = 'table' order by name`).all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      if (names.length === 0) return undefined;
      if (!names.includes('holdfast_schema'))
        return `tables that are not Holdfast's (${names.slice(0, 5).join(', ')}…)`;
      const count = (query: string) => Number((connection.prepare(query).get() as { n: number }).n);
      return storeWords(
        count('select max(version) as n from holdfast_schema'),
        names.includes('tenants') ? count('select count(*) as n from tenants') : 0,
        names.includes('principals') ? count('select count(*) as n from principals') : 0,
        names.includes('messages') ? count('select count(*) as n from messages') : 0,
      );
    } finally {
      connection.close();
    }
  }
  const handle = await openDatabase(location);
  try {
    return await postgresContents(handle.db);
  } catch (error) {
    // The first contact with the target: an unknown database or a refused connection, said in one line.
    throw unavailable('target-unreachable', `cannot use ${describeLocation(location)}: ${(error as Error).message}`);
  } finally {
    await handle.close();
  }
}

async function postgresContents(db: Kysely<Database>): Promise<string | undefined> {
  const names = await tableNames(db, 'postgres');
  if (names.length === 0) return undefined;
  if (!names.includes('holdfast_schema')) return `tables that are not Holdfast's (${names.slice(0, 5).join(', ')}…)`;
  const count = async (query: string) =>
    Number((await sql<{ n: number }>`${sql.raw(query)}`.execute(db)).rows[0]?.n ?? 0);
  return storeWords(
    await count('select max(version) as n from holdfast_schema'),
    names.includes('tenants') ? await count('select count(*) as n from tenants') : 0,
    names.includes('principals') ? await count('select count(*) as n from principals') : 0,
    names.includes('messages') ? await count('select count(*) as n from messages') : 0,
  );
}

const storeWords = (schema: number, tenants: number, principals: number, messages: number) =>
  `a Holdfast store (schema v${schema}: ${tenants} tenant(s), ${principals} account(s), ${messages} message(s))`;

/** Refuses a target that is not empty, saying what is there and what to do. */
export async function requireEmptyTarget(location: StoreLocation, doing: string): Promise<void> {
  const contents = await targetContents(location);
  if (contents === undefined) return;
  const where = describeLocation(location);
  const remedy =
    location.kind === 'sqlite'
      ? `move ${location.path} (with its -wal and -shm files) aside, or choose another data directory`
      : 'drop and create the database again, or name another one';
  throw conflict(
    'target-not-empty',
    `${where} is not empty: it holds ${contents}. ${doing} writes only into an empty database: ${remedy}`,
  );
}
