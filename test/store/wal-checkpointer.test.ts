// The server's SQLite connection leaves WAL checkpoints to a worker thread: pages written reach the
// database file without a commit of the server's doing the copying, and closing checkpoints the rest
// and removes the WAL.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { relaxedCommit } from '../../src/store/commit-modes.ts';
import { openDatabase } from '../../src/store/database.ts';
import { backstopPages } from '../../src/store/wal-checkpointer.ts';

describe('WAL checkpoints in the background', () => {
  it('copy committed pages into the database file, and close leaves no WAL behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-checkpoint-'));
    const path = join(dir, 'holdfast.sqlite');
    const handle = await openDatabase({ kind: 'sqlite', path }, { backgroundCheckpoints: true });
    try {
      assert.equal(
        handle.sqlite!.pragma('wal_autocheckpoint', { simple: true }),
        backstopPages,
        'the server connection checkpoints only as a backstop',
      );
      await sql`create table filler (id integer primary key, data blob)`.execute(handle.db);
      // About 2,000 pages: past SQLite's default checkpoint threshold, well below the backstop.
      const size = () => statSync(path).size;
      const before = size();
      await relaxedCommit(handle.db, async (trx) => {
        for (let i = 0; i < 2000; i++)
          await sql`insert into filler (data) values (${Buffer.alloc(3500, i % 256)})`.execute(trx);
      });
      assert.ok(size() < before + 1_000_000, 'the commit itself copied nothing into the database file');
      const deadline = Date.now() + 10_000;
      while (size() < before + 6_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(size() >= before + 6_000_000, `the worker copied the pages into the database file (${size()} bytes)`);
    } finally {
      await handle.close();
    }
    assert.equal(existsSync(`${path}-wal`), false, 'closing checkpointed the rest and removed the WAL');
    const reopened = await openDatabase({ kind: 'sqlite', path });
    try {
      const { rows } = await sql<{ n: number }>`select count(*) as n from filler`.execute(reopened.db);
      assert.equal(rows[0]!.n, 2000);
    } finally {
      await reopened.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
