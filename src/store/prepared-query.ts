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
import { PostgresAdapter, type Compilable, type CompiledQuery, type Kysely, type QueryResult, type RawBuilder } from 'kysely';
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

const directRunners = new WeakMap<object, DirectRunner>();

/** Called by openDatabase for an SQLite database. */
export function registerDirectRunner(db: Kysely<Database>, runner: DirectRunner) {
  directRunners.set(db.getExecutor().adapter, runner);
}

/**
 * `Row` is declared by the caller and must match what the query selects or returns: Kysely's types do
 * not carry it through a compiled query. Every run reuses the compiled query's id, which only plugins
 * would look at; Holdfast's Kysely instances have none.
 */
export class PreparedQuery<Args extends Record<string, unknown>, Row> {
  /** By dialect adapter: SQLite and PostgreSQL compile the same query to different SQL. */
  private readonly templates = new WeakMap<object, Template>();

  /**
   * @param build builds the query on `db`, with `arg(name)` wherever a value of the run goes.
   */
  constructor(private readonly build: (db: Kysely<Database>, arg: Arg<Args>) => Compilable<Row>) {}

  /** Runs the query on `db` (the database or a transaction) with these values. */
  async run(db: Kysely<Database>, args: Args): Promise<QueryResult<Row>> {
    const adapter = db.getExecutor().adapter;
    const template = this.template(db, adapter);
    const parameters = template.compiled.parameters.map((constant, i) => {
      const name = template.slots[i];
      return name === undefined ? constant : args[name];
    });
    const direct = directRunners.get(adapter);
    if (direct?.available(db.isTransaction)) return direct.run(template.compiled.sql, parameters) as QueryResult<Row>;
    return db.executeQuery<Row>({ ...template.compiled, parameters } as CompiledQuery<Row>);
  }

  async rows(db: Kysely<Database>, args: Args): Promise<Row[]> {
    return (await this.run(db, args)).rows;
  }

  async first(db: Kysely<Database>, args: Args): Promise<Row | undefined> {
    return (await this.run(db, args)).rows[0];
  }

  /**
   * @param key the dialect adapter: getExecutor() is Kysely's (typed, documented as internal); its
   *   adapter is one object per dialect instance, shared by the database and its transactions.
   */
  private template(db: Kysely<Database>, key: object): Template {
    let template = this.templates.get(key);
    if (!template) {
      const compiled = this.build(db, ((name: string) => new Slot(name)) as Arg<Args>).compile();
      const slots = compiled.parameters.map((p) => (p instanceof Slot ? p.name : undefined));
      template = { compiled, slots };
      this.templates.set(key, template);
    }
    return template;
  }
}

/**
 * A statement Kysely's builder cannot say (a batch of rows passed as one JSON value, say), written
 * in SQL for each dialect, for a PreparedQuery: `new PreparedQuery((db, arg) => sqlFor(db, {...}))`.
 */
export function sqlFor<Row>(db: Kysely<Database>, texts: { postgres: RawBuilder<Row>; sqlite: RawBuilder<Row> }): Compilable<Row> {
  const query = isPostgres(db) ? texts.postgres : texts.sqlite;
  return { compile: () => query.compile(db) };
}

/** Whether `db` (a database or a transaction) is on PostgreSQL. */
export function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
