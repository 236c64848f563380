// A backup of SQLite restored into PostgreSQL and back, and `store copy` between the two while the
// source serves, with a catch-up that reloads the rows and keeps the contents the copy has.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { copyStore } from '../../src/backup/copy-store.ts';
import { createBackup } from '../../src/backup/create-backup.ts';
import { restoreBackup } from '../../src/backup/restore-backup.ts';
import { readBlob } from '../../src/store/blobs/blob-store.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { createBackend, postgresSkip, tempDir, type TestBackend } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SelfMailer } from '../helpers/submission.ts';

const password = 'Backup-Drill-42';
const alice = 'alice@test.example';

/** Every message as folder/uid → prefix + content, and the folders' UIDVALIDITY. */
async function contentsOf(store: Store) {
  const rows = await store.db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.name', 'messages.uid', 'messages.prefix', 'messages.blob_hash', 'messages.flags'])
    .orderBy('messages.id')
    .execute();
  const messages: Record<string, string> = {};
  for (const r of rows)
    messages[`${r.name}/${r.uid}`] =
      `${r.flags}|${r.prefix}${(await readBlob(store.blobs, r.blob_hash)).toString('latin1')}`;
  const folders = await store.db
    .selectFrom('mailboxes')
    .select(['name', 'uidvalidity', 'used_bytes'])
    .orderBy('name')
    .execute();
  return {
    messages,
    folders: folders.map((f) => ({ ...f, uidvalidity: Number(f.uidvalidity), used_bytes: Number(f.used_bytes) })),
  };
}

async function opened<T>(backend: TestBackend, fn: (store: Store) => Promise<T>): Promise<T> {
  const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('between backends', { skip: postgresSkip }, () => {
  let t: TestNode;
  let to: string;
  const targets: TestBackend[] = [];
  let mail: SelfMailer;
  const target = async (name: 'sqlite' | 'postgres') => {
    const backend = await createBackend(name);
    targets.push(backend);
    return backend;
  };

  before(async () => {
    t = await startTestNode('sqlite');
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: alice, password });
    mail = new SelfMailer(t, alice, password, 'y');
    await mail.send(3);
    await mail.send(1, 600_000);
    to = await tempDir('holdfast-backups-');
  });
  after(async () => {
    await t.stop();
    for (const backend of targets) await backend.cleanup();
    await rm(to, { recursive: true, force: true });
  });

  it('restores a backup of SQLite into PostgreSQL, and a backup of that into SQLite', async () => {
    const source = await contentsOf(t.node.holdfast.store);
    const fromSqlite = await createBackup(t.node.holdfast.store, { to });
    const postgres = await target('postgres');
    await restoreBackup(fromSqlite.dir, { location: postgres.location, dataDir: postgres.dataDir });
    const inPostgres = await opened(postgres, contentsOf);
    assert.deepEqual(inPostgres.messages, source.messages, 'every message byte for byte, flags too');
    assert.deepEqual(
      inPostgres.folders.map((f) => [f.name, f.used_bytes]),
      source.folders.map((f) => [f.name, f.used_bytes]),
      'the byte count of each folder',
    );

    const fromPostgres = await opened(postgres, (store) => createBackup(store, { to }));
    assert.equal(fromPostgres.dialect, 'postgres');
    assert.equal(fromPostgres.newBlobs, 0, 'the same contents: none new in the pool');
    const sqlite = await target('sqlite');
    await restoreBackup(fromPostgres.dir, { location: sqlite.location, dataDir: sqlite.dataDir });
    const back = await opened(sqlite, async (store) => {
      // Ids continue after the restored ones (PostgreSQL sequences set past them, SQLite by itself).
      const tenant = await store.db
        .insertInto('forests')
        .values({ name: 'later', max_connections: 1, created_at: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      assert.ok(Number(tenant.id) > 1);
      return contentsOf(store);
    });
    assert.deepEqual(back.messages, source.messages);
    for (const folder of back.folders) {
      const before = inPostgres.folders.find((f) => f.name === folder.name)!;
      assert.ok(folder.uidvalidity > before.uidvalidity, 'each restore gives each folder a new, higher UIDVALIDITY');
    }
    await opened(postgres, async (store) => {
      const forest = await store.db
        .insertInto('forests')
        .values({ name: 'later', max_connections: 1, created_at: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      assert.ok(Number(forest.id) > 1, 'PostgreSQL identities continue after the restored ids');
    });
  });

  it('copies the serving SQLite store into PostgreSQL, catches up, and copies that back into SQLite', async (context) => {
    const postgres = await target('postgres');
    const started = Date.now();
    const first = await copyStore(t.node.holdfast.store, postgres, { renewIdentities: false });
    const firstMs = Date.now() - started;
    assert.equal(first.counts.messages, mail.sent);
    assert.deepEqual((await opened(postgres, contentsOf)).messages, (await contentsOf(t.node.holdfast.store)).messages);

    await mail.send(2);
    await assert.rejects(copyStore(t.node.holdfast.store, postgres, { renewIdentities: false }), /is not empty/);
    const caughtUpAt = Date.now();
    const caughtUp = await copyStore(t.node.holdfast.store, postgres, { renewIdentities: false, catchUp: true });
    const catchUpMs = Date.now() - caughtUpAt;
    context.diagnostic(
      `first copy ${firstMs} ms, catch-up ${catchUpMs} ms (${caughtUp.contentsKept} of ${caughtUp.contents} contents kept)`,
    );
    assert.equal(caughtUp.counts.messages, mail.sent);
    assert.equal(caughtUp.contents - caughtUp.contentsKept, 2, 'only the two new contents were copied');
    const source = await contentsOf(t.node.holdfast.store);
    const copied = await opened(postgres, contentsOf);
    assert.deepEqual(copied.messages, source.messages);
    assert.deepEqual(copied.folders, source.folders, 'a copy keeps UIDVALIDITY: clients need not resync');

    const sqlite = await target('sqlite');
    await opened(postgres, (store) => copyStore(store, sqlite, { renewIdentities: false }));
    assert.deepEqual((await opened(sqlite, contentsOf)).messages, source.messages);
  });
});
