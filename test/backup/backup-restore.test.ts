// Backups of a serving node's store on each backend: create, verify, restore into an empty store,
// refusal of a non-empty one, incremental contents, expiry, damage found by verify, and the content
// collector held off while a backup copies what its snapshot refers to.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { poolPath } from '../../src/backup/backup-format.ts';
import { expireBackups, listBackups } from '../../src/backup/backup-list.ts';
import { PackWriter } from '../../src/backup/content-packs.ts';
import { ContentPool } from '../../src/backup/content-pool.ts';
import { readAll } from '../../src/backup/content-stream.ts';
import { createBackup, type BackupSummary } from '../../src/backup/create-backup.ts';
import { openBackup } from '../../src/backup/open-backup.ts';
import { restoreBackup } from '../../src/backup/restore-backup.ts';
import { verifyBackup } from '../../src/backup/verify-backup.ts';
import { readBlob } from '../../src/store/blobs/blob-store.ts';
import { ContentCollector } from '../../src/store/content-collector.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SelfMailer } from '../helpers/submission.ts';
import { rewriteAsGzip } from './gzip-packs.ts';

const password = 'Backup-Drill-42';
const alice = 'alice@test.example';

/** Every message of every folder as folder/uid → prefix + content, read from a store. */
async function messagesOf(store: Store): Promise<Map<string, string>> {
  const rows = await store.db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.name', 'messages.uid', 'messages.prefix', 'messages.blob_hash'])
    .orderBy('messages.id')
    .execute();
  const out = new Map<string, string>();
  for (const r of rows)
    out.set(`${r.name}/${r.uid}`, r.prefix + (await readBlob(store.blobs, r.blob_hash)).toString('latin1'));
  return out;
}

for (const name of backendNames) {
  describe(`backups on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let to: string;
    let first: BackupSummary;
    const targets: TestBackend[] = [];
    let mail: SelfMailer;

    const newTarget = async () => {
      const backend = await createBackend(name);
      targets.push(backend);
      return backend;
    };

    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: alice, password });
      mail = new SelfMailer(t, alice, password);
      await mail.send(3);
      await mail.send(1, 400_000); // above the inline limit: a file on SQLite, chunks on PostgreSQL
      to = await tempDir('holdfast-backups-');
    });
    after(async () => {
      await t.stop();
      for (const backend of targets) await backend.cleanup();
      await rm(to, { recursive: true, force: true });
    });

    it('backs up a serving store, verifies the backup, and restores it into an empty store', async () => {
      // One row per segment of blob_metadata: the next backup shares those that did not change.
      first = await createBackup(t.node.holdfast.store, { to, segmentRows: 1 });
      assert.equal(first.dialect, name);
      assert.equal(first.counts.messages, 4);
      assert.ok(first.blobs >= 4, `${first.blobs} contents`);
      assert.equal(first.newBlobs, first.blobs, 'an empty target: every content is new');
      assert.ok(
        !('cluster_nodes' in first.counts) && !('blobs' in first.counts),
        'node-local and blob tables are not dumped',
      );

      const verified = await verifyBackup(first.dir);
      assert.equal(verified.ok, true, verified.verdict);
      assert.match(verified.verdict, /is good/);

      const target = await newTarget();
      const restored = await restoreBackup(first.dir, { location: target.location, dataDir: target.dataDir });
      assert.equal(restored.counts.messages, 4);
      const { store } = await openStore({ location: target.location, dataDir: target.dataDir });
      try {
        assert.deepEqual(
          await messagesOf(store),
          await messagesOf(t.node.holdfast.store),
          'every message, byte for byte',
        );
        const before = await t.node.holdfast.store.db.selectFrom('mailboxes').select(['name', 'uidvalidity']).execute();
        const after = await store.db.selectFrom('mailboxes').select(['name', 'uidvalidity']).execute();
        for (const folder of after) {
          const old = before.find((f) => f.name === folder.name)!;
          assert.ok(Number(folder.uidvalidity) > Number(old.uidvalidity), `${folder.name}: a new, higher UIDVALIDITY`);
        }
        const calendars = await store.db.selectFrom('calendars').select(['sync_seq', 'sync_floor']).execute();
        for (const c of calendars)
          assert.ok(Number(c.sync_floor) > 1e12 && Number(c.sync_seq) === Number(c.sync_floor));
      } finally {
        await store.close();
      }

      await assert.rejects(
        restoreBackup(first.dir, { location: target.location, dataDir: target.dataDir }),
        /is not empty: it holds a Holdfast store \(schema v\d+: 1 tenant\(s\), \d+ account\(s\), 4 message\(s\)\)/,
      );
    });

    it('copies only new contents into the same target the next time, and expiry keeps what kept backups need', async () => {
      await mail.send(2);
      // A flag set over IMAP on the oldest message: its segment of the messages table changed.
      const client = imapflowClient(t.port('imaps'), alice, password);
      await client.connect();
      try {
        await client.mailboxOpen('INBOX');
        await client.messageFlagsAdd('1', ['\\Flagged']);
      } finally {
        await client.logout();
      }
      const second = await createBackup(t.node.holdfast.store, { to, segmentRows: 1 });
      assert.equal(second.counts.messages, 6);
      const segmentsOf = async (dir: string, table = 'blob_metadata') =>
        (await openBackup(dir)).manifest.tables.find((t) => t.name === table)!.segments!.map((s) => s.file);
      const [earlier, later] = [await segmentsOf(first.dir), await segmentsOf(second.dir)];
      assert.ok(earlier.length >= 3, `the first backup's blob_metadata is in segments (${earlier.length})`);
      assert.deepEqual(later.slice(0, earlier.length), earlier, 'segments with the same rows are shared');
      assert.ok(later.length > earlier.length, 'the last segment grew and was cut again');
      // One message per segment: the flagged one's was written again, the other three are shared.
      const [messagesBefore, messagesAfter] = [
        await segmentsOf(first.dir, 'messages'),
        await segmentsOf(second.dir, 'messages'),
      ];
      assert.equal(messagesBefore.length, 4);
      assert.notEqual(messagesAfter[0], messagesBefore[0], "the flagged message's segment is new");
      assert.deepEqual(messagesAfter.slice(1, 4), messagesBefore.slice(1), 'the others are shared');
      assert.equal(second.blobs, first.blobs + 2);
      assert.equal(second.newBlobs, 2, 'the contents of the first backup were in the pool already');
      assert.deepEqual(
        (await listBackups(to)).map((b) => b.id),
        [first.id, second.id],
      );

      // Contents only an expired backup listed (in a pack of their own, and in a file as format 1
      // kept them), and a backup a crash left unfinished.
      const gone = Buffer.from('gone');
      const orphan = createHash('sha256').update(gone).digest('hex');
      const orphanPack = new PackWriter(join(to, 'packs'), 'backup-20200101T000000Z');
      await orphanPack.add(orphan, gone);
      await orphanPack.finish();
      // A pack mostly unneeded: one small content a kept backup needs (its copy here is the one the
      // pool reads: the pack sorts last) beside 200 KB nothing needs. Expiry rewrites it.
      const poolBefore = await ContentPool.open(to);
      let small = '';
      for await (const { hash, size } of (await openBackup(second.dir)).contents()) if (size < 50_000) small = hash;
      const smallBytes = await readAll(poolBefore.open(small));
      const junk = randomBytes(200_000);
      const sparse = new PackWriter(join(to, 'packs'), 'zz-sparse');
      await sparse.add(small, smallBytes);
      await sparse.add(createHash('sha256').update(junk).digest('hex'), junk);
      await sparse.finish();
      const legacyOrphan = 'f'.repeat(64);
      await mkdir(join(poolPath(to, legacyOrphan), '..'), { recursive: true });
      await writeFile(poolPath(to, legacyOrphan), gzipSync('gone too'));
      const leftover = join(to, '.partial-backup-20200101T000000Z');
      await mkdir(leftover);
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
      await utimes(leftover, twoDaysAgo, twoDaysAgo);
      const expiry = await expireBackups(to, 1);
      assert.deepEqual(expiry.removed, [first.id]);
      assert.equal(expiry.blobsRemoved, 3);
      const pool = await ContentPool.open(to);
      assert.equal(pool.size(orphan), undefined, 'the pack only the expired backup needed is gone');
      assert.equal(pool.packs.length, 3, `the backups' packs and one rewritten: ${pool.packs.join(', ')}`);
      assert.ok(!pool.packs.includes('zz-sparse-0001.pack') && pool.packs.some((p) => p.startsWith('expiry-')));
      assert.ok(pool.describe(small).includes('expiry-'), 'the needed content moved to the rewritten pack');
      assert.deepEqual(await readAll(pool.open(small)), smallBytes);
      await assert.rejects(readFile(poolPath(to, legacyOrphan)), { code: 'ENOENT' });
      assert.deepEqual(
        (await listBackups(to)).map((b) => b.id),
        [second.id],
        'the unfinished directory is no backup',
      );
      const verified = await verifyBackup(second.dir);
      assert.equal(verified.ok, true, verified.verdict);
      const target = await newTarget();
      await restoreBackup(second.dir, { location: target.location, dataDir: target.dataDir });
      const { store } = await openStore({ ...target, now: Date.now });
      try {
        const oldest = await store.db.selectFrom('messages').select('flags').orderBy('id').executeTakeFirstOrThrow();
        assert.match(oldest.flags, /\\Flagged/, 'the restore has the flag set after the first backup');
      } finally {
        await store.close();
      }
      first = second;
    });

    it('verify finds a damaged content and a truncated table file, naming them', async () => {
      const backup = await openBackup(first.dir);
      let victim = '';
      for await (const { hash } of backup.contents()) victim = hash;
      const where = [...(await ContentPool.open(to)).located()].find(([hash]) => hash === victim)![1];
      const pack = join(to, 'packs', where.pack);
      const original = await readFile(pack);
      const damaged = Buffer.from(original);
      damaged.fill(0x55, where.offset + 10, where.offset + where.length - 8);
      await writeFile(pack, damaged);
      try {
        const result = await verifyBackup(first.dir);
        assert.equal(result.ok, false);
        assert.match(result.verdict, /is damaged/);
        assert.ok(
          result.problems.some((p) => p.includes(victim) && p.includes(where.pack) && / is damaged: /.test(p)),
          result.problems.join('\n'),
        );
      } finally {
        await writeFile(pack, original);
      }

      const table = join(first.dir, 'tables', 'mailboxes.ndjson.gz');
      const whole = await readFile(table);
      await truncate(table, Math.floor(whole.length / 2));
      try {
        const result = await verifyBackup(first.dir);
        assert.equal(result.ok, false);
        assert.match(result.verdict, /size mismatch in tables\/mailboxes\.ndjson\.gz/);
        const target = await newTarget();
        await assert.rejects(
          restoreBackup(first.dir, { location: target.location, dataDir: target.dataDir }),
          /is damaged: size mismatch in tables\/mailboxes\.ndjson\.gz/,
        );
        if (target.location.kind === 'sqlite') {
          const { readdir } = await import('node:fs/promises');
          assert.deepEqual(
            (await readdir(target.dataDir)).filter((f) => f.includes('sqlite')),
            [],
            'a failed restore leaves no database behind',
          );
        }
      } finally {
        await writeFile(table, whole);
      }
      assert.equal((await verifyBackup(first.dir)).ok, true);
    });

    /**
     * The first backup as an earlier version wrote it: its files and segments, its contents as
     * `writeContents` puts them into the place, and its manifest's format version. Verified, then
     * restored whole.
     */
    const readsOlderFormat = async (formatVersion: number, writeContents: (place: string) => Promise<void>) => {
      const old = join(await tempDir(), `format-${formatVersion}`);
      await cp(first.dir, join(old, first.id), { recursive: true });
      await cp(join(to, 'segments'), join(old, 'segments'), { recursive: true });
      await writeContents(old);
      const manifestPath = join(old, first.id, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      await writeFile(manifestPath, JSON.stringify({ ...manifest, formatVersion }));
      const verified = await verifyBackup(join(old, first.id));
      assert.equal(verified.ok, true, verified.verdict);
      const target = await newTarget();
      const restored = await restoreBackup(join(old, first.id), { location: target.location, dataDir: target.dataDir });
      assert.equal(restored.contents, first.blobs);
    };

    it('reads a backup of format 1, which kept one file per content', async () => {
      await readsOlderFormat(1, async (old) => {
        const backup = await openBackup(first.dir);
        const pool = await backup.pool();
        for await (const { hash } of backup.contents()) {
          await mkdir(join(poolPath(old, hash), '..'), { recursive: true });
          await writeFile(poolPath(old, hash), gzipSync(await readAll(pool.open(hash))));
        }
      });
    });

    it('reads a backup of format 2, whose packs hold gzip blocks', async () => {
      await readsOlderFormat(2, async (old) => {
        await mkdir(join(old, 'packs'));
        await rewriteAsGzip(join(to, 'packs'), join(old, 'packs'));
      });
    });

    it('refuses a backup of a newer schema and a directory that is no backup, saying why', async () => {
      const place = await tempDir('holdfast-newer-');
      const copy = join(place, first.id);
      try {
        await cp(first.dir, copy, { recursive: true });
        await cp(join(to, 'segments'), join(place, 'segments'), { recursive: true });
        const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8'));
        await writeFile(join(copy, 'manifest.json'), JSON.stringify({ ...manifest, schemaVersion: 999 }));
        const target = await newTarget();
        await assert.rejects(
          restoreBackup(copy, { location: target.location, dataDir: target.dataDir }),
          /has schema version 999 but this Holdfast knows only up to version \d+/,
        );
        const otherBuild = {
          ...manifest,
          tables: manifest.tables.map((table: { name: string; columns: string[] }) =>
            table.name === 'mailboxes' ? { ...table, columns: [...table.columns, 'colour'] } : table,
          ),
        };
        await writeFile(join(copy, 'manifest.json'), JSON.stringify(otherBuild));
        await assert.rejects(
          restoreBackup(copy, { location: target.location, dataDir: target.dataDir }),
          /has column\(s\) colour in table mailboxes that schema version \d+ of this Holdfast does not have: it was made by a different build/,
        );
        await writeFile(join(copy, 'manifest.json'), JSON.stringify({ ...manifest, formatVersion: 7 }));
        await assert.rejects(
          restoreBackup(copy, { location: target.location, dataDir: target.dataDir }),
          /backup format version 7; this Holdfast reads versions 1 and 2/,
        );
        await rm(join(copy, 'manifest.json'));
        await assert.rejects(
          restoreBackup(copy, { location: target.location, dataDir: target.dataDir }),
          /no manifest\.json in .*: not a Holdfast backup, or one that did not finish/,
        );
        const verdict = await verifyBackup(copy);
        assert.equal(verdict.ok, false);
        assert.match(verdict.verdict, /no manifest\.json/);
      } finally {
        await rm(place, { recursive: true, force: true });
      }
    });

    it('holds the content collector off while it copies: content expunged after the snapshot is still backed up', async () => {
      const { store } = t.node.holdfast;
      // Content stored three hours ago (by the node's clock), so the collector may take it once unused.
      t.clock.offset = -3 * 3600_000;
      await mail.send(1, 300);
      t.clock.offset = 0;
      const doomed = await store.db
        .selectFrom('messages')
        .select(['id', 'blob_hash'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      const collector = new ContentCollector(store.db, store.blobs);
      let collectedDuringBackup = -1;
      const lastTable = (await openBackup(first.dir)).manifest.tables.at(-1)!.name;
      const backup = await createBackup(store, {
        to,
        onProgress: async (progress) => {
          if (progress.table !== lastTable || collectedDuringBackup >= 0) return;
          // Between the snapshot's tables and its contents: the message goes, the collector runs.
          await store.db.deleteFrom('messages').where('id', '=', doomed.id).execute();
          await store.db.deleteFrom('queue_messages').where('blob_hash', '=', doomed.blob_hash).execute();
          collector.consider([doomed.blob_hash], Date.now() - 120_000);
          collectedDuringBackup = await collector.collect(Date.now());
        },
      });
      assert.equal(collectedDuringBackup, 0, 'nothing is deleted while the backup holds contents');
      assert.equal(backup.counts.messages, mail.sent, 'the snapshot has the message');
      assert.notEqual((await ContentPool.open(to)).size(doomed.blob_hash), undefined, 'and its content');
      assert.equal(backup.missingBlobs.length, 0);
      assert.equal((await verifyBackup(backup.dir)).ok, true);

      // The hold is gone with the backup: the same content is collected now.
      assert.equal(await collector.collect(Date.now()), 1);
      assert.equal(await store.blobs.has(doomed.blob_hash), false);
      mail.sent--;
    });

    it('sees a flag taken away again in the next backup, and restores it as the store has it', async () => {
      const place = await tempDir('holdfast-backups-flags-');
      const client = imapflowClient(t.port('imaps'), alice, password);
      await client.connect();
      try {
        await client.mailboxOpen('INBOX');
        await client.messageFlagsAdd('1', ['\\Seen']);
        const before = await createBackup(t.node.holdfast.store, { to: place, segmentRows: 1 });
        // Five other changes, then \Seen removed: its modseq rose by six and its flags (\Flagged \Seen,
        // the earlier test flagged it) shrank by six characters, which once left the segment looking the same.
        for (const flag of ['$a', '$b', '$c', '$d', '$e']) await client.messageFlagsAdd('2', [flag]);
        await client.messageFlagsRemove('1', ['\\Seen']);
        const after = await createBackup(t.node.holdfast.store, { to: place, segmentRows: 1 });
        const firstSegment = async (dir: string) =>
          (await openBackup(dir)).manifest.tables.find((table) => table.name === 'messages')!.segments![0]!.file;
        assert.notEqual(await firstSegment(after.dir), await firstSegment(before.dir), 'the segment was written again');

        const target = await newTarget();
        await restoreBackup(after.dir, { location: target.location, dataDir: target.dataDir });
        const { store } = await openStore({ location: target.location, dataDir: target.dataDir });
        try {
          const flagsOf = async (of: Store) =>
            (await of.db.selectFrom('messages').select(['id', 'flags']).orderBy('id').execute()).map((m) => m.flags);
          assert.deepEqual(await flagsOf(store), await flagsOf(t.node.holdfast.store));
        } finally {
          await store.close();
        }
      } finally {
        await client.logout();
        await rm(place, { recursive: true, force: true });
      }
    });
  });
}
