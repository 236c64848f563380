// Another process holding SQLite's write lock (a worker of `start --workers`, the CLI) makes this
// one's writes wait — transactions, autocommit statements and prepared statements alike — with the
// event loop running, and they all go through once it is released. A sign-in under two workers
// failed with "database is locked" when an autocommit write waited in SQLite's busy handler instead.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../../src/store/database.ts';
import { PreparedQuery, rawSql } from '../../src/store/prepared-query.ts';
import { tempDir } from '../helpers/backends.ts';

const insertPrepared = new PreparedQuery<{ x: number }, never>((db, arg) =>
  rawSql(db, sql`insert into t (x) values (${arg('x')})`),
);

describe('SQLite writes while another process holds the write lock', async () => {
  const dir = await tempDir();
  after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'lock.sqlite');

  /** Holds the lock (as another process would) for `ms`, counting the timer ticks meanwhile. */
  const whileLocked = async (ms: number, write: () => Promise<unknown>) => {
    const holder = new SqliteDatabase(path);
    holder.exec('begin immediate');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    setTimeout(() => holder.exec('commit'), ms);
    const started = performance.now();
    try {
      await write();
    } finally {
      clearInterval(ticker);
      holder.close();
    }
    return { waitedMs: performance.now() - started, ticks };
  };

  it('waits with the event loop running, and writes once the lock is free', async () => {
    const handle = await openDatabase({ kind: 'sqlite', path });
    after(() => handle.close());
    const { db } = handle;
    await sql`create table t (x integer)`.execute(db);
    const writes = {
      autocommit: () => sql`insert into t (x) values (1)`.execute(db),
      transaction: () => db.transaction().execute((trx) => sql`insert into t (x) values (2)`.execute(trx)),
      prepared: () => insertPrepared.run(db, { x: 3 }),
    };
    for (const [kind, write] of Object.entries(writes)) {
      const { waitedMs, ticks } = await whileLocked(100, write);
      assert.ok(waitedMs >= 90, `${kind}: it waited for the holder (${waitedMs} ms)`);
      assert.ok(ticks >= 5, `${kind}: timers ran while it waited (${ticks})`);
    }
    const { rows } = await sql<{ x: number }>`select x from t order by x`.execute(db);
    assert.deepEqual(
      rows.map((r) => r.x),
      [1, 2, 3],
    );
  });

  it('reports any other error at once', async () => {
    const handle = await openDatabase({ kind: 'sqlite', path });
    after(() => handle.close());
    await assert.rejects(sql`insert into no_such_table values (1)`.execute(handle.db), /no such table/);
  });
});
