// A damaged or contended backup place, as an administrator meets it: restore and recover refuse a
// backup whose files are not what its manifest says (a table rewritten short still decompresses);
// a backup whose manifest cannot be read shows in `list` and keeps `expire` off the shared contents;
// two backups started in the same second both complete; path mistakes are one line, not a stack.
import assert from 'node:assert/strict';
import { cp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { expireBackups, scanBackups } from '../../src/backup/backup-list.ts';
import { createBackup, type BackupSummary } from '../../src/backup/create-backup.ts';
import { recoverFromBackup } from '../../src/backup/partial-restore.ts';
import { restoreBackup } from '../../src/backup/restore-backup.ts';
import { createBackend, tempDir, type TestBackend } from '../helpers/backends.ts';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SelfMailer } from '../helpers/submission.ts';

const alice = 'alice@test.example';
const password = 'Damaged-Backup-42';

describe('damaged and contended backups', () => {
  let t: TestNode;
  let to: string;
  let backup: BackupSummary;
  const targets: TestBackend[] = [];

  before(async () => {
    t = await startTestNode('sqlite');
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: alice, password });
    await new SelfMailer(t, alice, password).send(3);
    to = await tempDir('holdfast-damage-');
    backup = await createBackup(t.node.holdfast.store, { to });
  });
  after(async () => {
    await t?.stop();
    for (const target of targets) await target.cleanup();
    if (to) await rm(to, { recursive: true, force: true });
  });

  it('refuses to restore or recover from a table file the manifest does not vouch for', async () => {
    const copy = join(await tempDir(), 'place');
    await cp(to, copy, { recursive: true });
    const dir = join(copy, backup.id);
    // Valid gzip, one row short: only the manifest's size and hash tell.
    // The messages table is dumped in segments (backup/table-segments.ts): its first one.
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const file = join(dir, manifest.tables.find((t: { name: string }) => t.name === 'messages').segments[0].file);
    const lines = gunzipSync(await readFile(file))
      .toString()
      .trimEnd()
      .split('\n');
    await writeFile(file, gzipSync(`${lines.slice(0, -1).join('\n')}\n`));

    const target = await createBackend('sqlite');
    targets.push(target);
    await assert.rejects(
      restoreBackup(dir, { location: target.location, dataDir: target.dataDir }),
      /is damaged: size mismatch in \.\.\/segments\/messages-[0-9a-f]+\.ndjson\.gz/,
    );
    await assert.rejects(
      recoverFromBackup(
        dir,
        { store: t.node.holdfast.store, findOwner: async () => undefined },
        { user: alice, dryRun: true },
      ),
      /is damaged: size mismatch in \.\.\/segments\/messages-[0-9a-f]+\.ndjson\.gz.*holdfast backup verify/,
    );
  });

  it('lists a backup whose manifest is damaged, and expire then leaves every content alone', async () => {
    const place = join(await tempDir(), 'place');
    await cp(to, place, { recursive: true });
    const second = await createBackup(t.node.holdfast.store, { to: place, now: () => Date.now() + 5_000 });
    await truncate(join(place, backup.id, 'manifest.json'), 50);
    const poolBefore = await readdir(join(place, 'packs'), { recursive: true });

    const { complete, damaged } = await scanBackups(place);
    assert.deepEqual(
      complete.map((b) => b.id),
      [second.id],
    );
    assert.equal(damaged[0]?.name, backup.id);
    const result = await expireBackups(place, 1);
    assert.equal(result.blobsRemoved, 0);
    assert.match(
      String(result.poolKept),
      /manifest\.json is damaged.*no content is removed while a backup cannot be read/,
    );
    assert.deepEqual(await readdir(join(place, 'packs'), { recursive: true }), poolBefore);

    const env = loopbackEnv(t.backend.dataDir);
    const listed = await runHoldfast(['backup', 'list', '--to', place], { env });
    assert.equal(listed.code, 1, 'a damaged backup is worth an exit status');
    assert.match(listed.stdout, new RegExp(`damaged: ${backup.id}: its manifest\\.json is damaged`));
  });

  it('gives two backups started in the same second two ids, both complete', async () => {
    const place = join(await tempDir(), 'same-second');
    const at = Date.now();
    const both = await Promise.all([0, 1].map(() => createBackup(t.node.holdfast.store, { to: place, now: () => at })));
    assert.notEqual(both[0]!.id, both[1]!.id);
    assert.equal((await scanBackups(place)).complete.length, 2);
  });

  it('says in one line what is wrong with a path', async () => {
    const env = loopbackEnv(t.backend.dataDir);
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, '');
    const cases: [string[], RegExp][] = [
      [
        ['backup', 'list', '--to', '/nonexistent/backups'],
        /^holdfast: there is no directory \/nonexistent\/backups\n$/,
      ],
      [['backup', 'create', '--to', file], /^holdfast: cannot mkdir .*a-file: it exists already/],
      [
        ['export', alice, '--to', '/nonexistent/exports/alice'],
        /^holdfast: cannot mkdir \/nonexistent\/exports\/.*: no such file or directory\n$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const result = await runHoldfast(args, { env });
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, expected, args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
