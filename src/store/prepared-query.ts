// A query of fixed shape, built and compiled by Kysely once per dialect and then run with new values.
//
// Kysely builds an operation tree and compiles it to SQL on every call: about 7 µs for a key lookup
// and several times that for a wide insert, while SQLite runs such a statement in a few. On IMAP's
// and SMTP's hot paths (a folder's HIGHESTMODSEQ after every command, flag updates, appends) building
// was a tenth of the server's time (bench/imap, session 6). Only shapes that never vary belong here:
// a list of values (`in (…)`) of varying length is a new shape each time.
//
// On SQLite a run also skips Kysely's executor when it can (see DirectRunner): the connection is in
// this process, and passing a key lookup through the executor's promises cost twice what SQLite takes
// to answer it (bench/imap, session 7).
//
// What a database has compiled and how it runs directly belong to that database: its PreparedQueries,
// made by openDatabase. The queries themselves are declared once, at module level, and hold nothing.
import type { Compilable, CompiledQuery, Kysely, QueryResult, RawBuilder } from 'kysely';
import { carriedBy } from './database-attachments.ts';
import { isBusy } from './sqlite-write-lock.ts';
import type { Database } from './schema.ts';

/** Stands for a named value while the query is built; replaced by the value at each run. */
class Slot {
  constructor(readonly name: string) {}
}

export type Arg<Args> = <K extends keyof Args & string>(name: K) => Args[K];

interface Template {
  compiled: CompiledQuery;
  /** Per parameter: the name of the value to bind, or undefined for a constant of the query. */
  slots: (string | undefined)[];
}

/**
 * Runs compiled SQL on a database's connection without Kysely's executor. Only where that is the same
 * as going through it: in a transaction (whose callback owns the connection), or outside any while the
 * connection has no transaction open — Kysely's SQLite driver hands its one connection to one
 * transaction at a time, and a statement run directly while another's is open would join it.
 */
export interface DirectRunner {
  /** Whether a query on `db` (a transaction or not) can run directly now. */
  available(isTransaction: boolean): boolean;
  run(sql: string, parameters: readonly unknown[]): QueryResult<unknown>;
}

/** One database's prepared queries: each compiled for its dialect, and run directly where it can (SQLite). */
export class PreparedQueries {
  /** By query: each is compiled for this database on its first run. */
  private readonly templates = new Map<object, Template>();

  constructor(
    readonly dialect: 'sqlite' | 'postgres',
    private readonly direct?: DirectRunner,
  ) {}

  async run<Args extends Record<string, unknown>, Row>(
    query: PreparedQuery<Args, Row>,
    db: Kysely<Database>,
    args: Args,
  ): Promise<QueryResult<Row>> {
    let template = this.templates.get(query);
    if (!template) this.templates.set(query, (template = query.compile(db)));
    const parameters = template.compiled.parameters.map((constant, i) => {
      const name = template.slots[i];
      return name === undefined ? constant : args[name];
    });
    if (this.direct?.available(db.isTransaction)) {
      try {
        return this.direct.run(template.compiled.sql, parameters) as QueryResult<Row>;
      } catch (error) {
        // Another process holds SQLite's write lock: the driver waits for it without blocking.
        if (db.isTransaction || !isBusy(error)) throw error;
      }
    }
    return db.executeQuery<Row>({ ...template.compiled, parameters } as CompiledQuery<Row>);
  }
}

/** The key under which a database carries its PreparedQueries (database-attachments.ts). */
export const preparedQueriesKey = Symbol('PreparedQueries');

const preparedQueriesOf = (db: Kysely<Database>) => carriedBy<PreparedQueries>(db, preparedQueriesKey);

/**
 * `Row` is declared by the caller and must match what the query selects or returns: Kysely's types do
 * not carry it through a compiled query. Every run reuses the compiled query's id, which only plugins
 * would look at; Holdfast's Kysely instances have none.
 */
export class PreparedQuery<Args extends Record<string, unknown>, Row> {
  /**
   * @param build builds the query on `db`, with `arg(name)` wherever a value of the run goes.
   */
  constructor(private readonly build: (db: Kysely<Database>, arg: Arg<Args>) => Compilable<Row>) {}

  /** Runs the query on `db` (the database or a transaction) with these values. */
  run(db: Kysely<Database>, args: Args): Promise<QueryResult<Row>> {
    return preparedQueriesOf(db).run(this, db, args);
  }

  async rows(db: Kysely<Database>, args: Args): Promise<Row[]> {
    return (await this.run(db, args)).rows;
  }

  async first(db: Kysely<Database>, args: Args): Promise<Row | undefined> {
    return (await this.run(db, args)).rows[0];
  }

  /** The query compiled for `db`'s dialect, with the named values marked (PreparedQueries keeps it). */
  compile(db: Kysely<Database>): Template {
    const compiled = this.build(db, ((name: string) => new Slot(name)) as Arg<Args>).compile();
    return { compiled, slots: compiled.parameters.map((p) => (p instanceof Slot ? p.name : undefined)) };
  }
}

/**
 * A statement Kysely's builder cannot say (a batch of rows passed as one JSON value, say), written
 * in SQL for each dialect, for a PreparedQuery: `new PreparedQuery((db, arg) => sqlFor(db, {...}))`.
 */
export function sqlFor<Row>(
  db: Kysely<Database>,
  texts: { postgres: RawBuilder<Row>; sqlite: RawBuilder<Row> },
): Compilable<Row> {
  return rawSql(db, isPostgres(db) ? texts.postgres : texts.sqlite);
}

/** A statement in SQL for one dialect only (its callers run it only there), for a PreparedQuery. */
export function rawSql<Row>(db: Kysely<Database>, query: RawBuilder<Row>): Compilable<Row> {
  return { compile: () => query.compile(db) };
}

/** Whether `db` (a database or a transaction) is on PostgreSQL. */
export function isPostgres(db: Kysely<Database>): boolean {
  return preparedQueriesOf(db).dialect === 'postgres';
}
