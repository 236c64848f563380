// A full disk on SQLite: the error that reaches the caller (and the log) says the disk is full, not
// "cannot rollback - no transaction is active" (SQLite rolls back by itself on SQLITE_FULL, and a
// second rollback used to replace the real error). max_page_count stands in for the full disk: SQLite
// answers both with the same SQLITE_FULL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { groupCommit } from '../../src/store/commit-modes.ts';
import { openDatabase } from '../../src/store/database.ts';

describe('SQLite on a full disk', () => {
  it('reports "database or disk is full" from a transaction, and the connection keeps working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-full-'));
    const handle = await openDatabase({ kind: 'sqlite', path: join(dir, 'holdfast.sqlite') });
    try {
      await sql`create table filler (data blob)`.execute(handle.db);
      const pages = Number(handle.sqlite!.pragma('page_count', { simple: true }));
      handle.sqlite!.pragma(`max_page_count = ${pages + 2}`);
      const fill = (db: typeof handle.db) => sql`insert into filler values (zeroblob(1000000))`.execute(db);
      await assert.rejects(handle.db.transaction().execute(fill), (error: Error) => {
        assert.match(error.message, /database or disk is full/);
        return true;
      });
      await assert.rejects(groupCommit(handle.db, fill), /database or disk is full/);
      // Room again: the same connection commits.
      handle.sqlite!.pragma('max_page_count = 1073741823');
      await handle.db.transaction().execute(fill);
      assert.equal(
        Number((await sql<{ n: number }>`select count(*) as n from filler`.execute(handle.db)).rows[0]!.n),
        1,
      );
    } finally {
      await handle.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
