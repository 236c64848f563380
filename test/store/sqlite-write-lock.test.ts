// Waiting for SQLite's write lock held by another connection (another process in production: a
// worker of `start --workers`, the CLI) leaves the event loop free, and still gets the lock.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { tempDir } from '../helpers/backends.ts';
import { beginWithoutBlocking } from '../../src/store/sqlite-write-lock.ts';
import { rm } from 'node:fs/promises';

describe('beginWithoutBlocking', async () => {
  const dir = await tempDir();
  after(() => rm(dir, { recursive: true, force: true }));
  const open = () => {
    const sqlite = new SqliteDatabase(join(dir, 'lock.sqlite'));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    return sqlite;
  };

  it('waits for the lock with the event loop running, and takes it once released', async () => {
    const holder = open();
    const waiter = open();
    holder.exec('create table t (x integer)');
    holder.exec('begin immediate');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    setTimeout(() => holder.exec('commit'), 100);
    const started = performance.now();
    await beginWithoutBlocking(waiter, () => waiter.exec('begin immediate'), 5000);
    clearInterval(ticker);
    assert.ok(performance.now() - started >= 90, 'it waited for the holder');
    assert.ok(ticks >= 5, `timers ran while it waited (${ticks})`);
    assert.equal(waiter.inTransaction, true);
    assert.equal(Number(waiter.pragma('busy_timeout', { simple: true })), 5000, 'busy_timeout restored');
    waiter.exec('insert into t values (1); commit');
    holder.close();
    waiter.close();
  });

  it('reports any other error at once', async () => {
    const waiter = open();
    await assert.rejects(
      beginWithoutBlocking(waiter, () => waiter.exec('begin nonsense'), 5000),
      /syntax error/,
    );
    assert.equal(Number(waiter.pragma('busy_timeout', { simple: true })), 5000, 'busy_timeout restored');
    waiter.close();
  });
});
