// The SQLite commit modes really change what reaches the disk: a relaxed commit runs with
// synchronous = NORMAL (no fsync), everything else with FULL. A pragma is applied when it is
// compiled, so a cached prepared pragma would silently keep the old mode.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { groupCommit, relaxedCommit } from '../../src/store/commit-modes.ts';
import { openDatabase } from '../../src/store/database.ts';

describe('SQLite commit modes', () => {
  it('switch to NORMAL for relaxed commits and back to FULL, every time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-commit-'));
    const handle = await openDatabase({ kind: 'sqlite', path: join(dir, 'holdfast.sqlite') });
    try {
      const mode = () => handle.sqlite!.pragma('synchronous', { simple: true });
      for (let i = 0; i < 3; i++) {
        assert.equal(await relaxedCommit(handle.db, async () => mode()), 1, `relaxed commit ${i}: NORMAL`);
        assert.equal(mode(), 2, `after relaxed commit ${i}: FULL`);
        assert.equal(
          await groupCommit(handle.db, async () => mode()),
          1,
          `group commit ${i}: NORMAL, then one shared fsync`,
        );
        assert.equal(await handle.db.transaction().execute(async () => mode()), 2, `plain transaction ${i}: FULL`);
      }
    } finally {
      await handle.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
