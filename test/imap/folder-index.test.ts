// The in-memory folder index: a copy per node that catches up by MODSEQ. Two indexes over one store
// stand for two nodes: changes made through one (appends, flag changes, expunges) are seen by the
// other exactly, also when many readers ask at once, on SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChangeFeed } from '../../src/mailbox/change-feed.ts';
import { FolderIndex } from '../../src/mailbox/folder-index.ts';
import { ensureDefaultFolders, findFolder } from '../../src/mailbox/folders.ts';
import { appendContent, expungeDeleted, storeFlags, type MessageDeps } from '../../src/mailbox/messages.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

for (const name of backendNames) {
  describe(`folder index on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let writer: MessageDeps;
    const reader = new FolderIndex();
    before(async () => {
      t = await createTestStore(name);
      await t.directory.addForest({ name: 'default' });
      await t.directory.addTenant({ name: 'default', forest: 'default' });
      const tenant = await t.directory.tenant('default');
      await tenant.addDomain('index.example');
      const user = await tenant.addPrincipal({ kind: 'user', address: 'ida@index.example', password: 'Wonderland-42' });
      await ensureDefaultFolders(t.store.db, user, Date.now());
      writer = {
        db: t.store.db,
        dialect: t.store.dialect,
        blobs: t.store.blobs,
        changes: new ChangeFeed(),
        index: new FolderIndex(),
        now: Date.now,
      };
    });
    after(() => t.close());

    const inbox = async () =>
      (await findFolder(t.store.db, (await t.directory.resolveAddress('ida@index.example'))!.principal.id, 'INBOX'))!;
    const message = (i: number) =>
      Buffer.from(`Subject: note ${i}\r\nMessage-ID: <${i}@index.example>\r\n\r\nbody ${i}\r\n`);
    const view = async () =>
      (await reader.messages(t.store.db, (await inbox()).id)).map((m) => `${m.uid}:${m.flags.join(',')}`);

    it('follows appends, flag changes and expunges made elsewhere', async () => {
      for (let i = 1; i <= 5; i++)
        await appendContent(writer, await inbox(), message(i), { flags: [], quotaBytes: null });
      assert.deepEqual(await view(), ['1:', '2:', '3:', '4:', '5:']);
      await storeFlags(writer, await inbox(), [2, 4], 'add', ['\\Seen']);
      await appendContent(writer, await inbox(), message(6), { flags: ['\\Flagged'], quotaBytes: null });
      assert.deepEqual(await view(), ['1:', '2:\\Seen', '3:', '4:\\Seen', '5:', '6:\\Flagged']);
      await storeFlags(writer, await inbox(), [1, 3], 'add', ['\\Deleted']);
      assert.deepEqual(await expungeDeleted(writer, await inbox()), [1, 3]);
      await storeFlags(writer, await inbox(), [2], 'remove', ['\\Seen']);
      assert.deepEqual(await view(), ['2:', '4:\\Seen', '5:', '6:\\Flagged']);
      const [six] = (await reader.messages(t.store.db, (await inbox()).id)).slice(-1);
      assert.equal(six!.size, message(6).length);
    });

    it('gives every concurrent reader the same, current list', async () => {
      const folder = await inbox();
      const writes = Array.from({ length: 10 }, (_, i) =>
        appendContent(writer, folder, message(100 + i), { flags: [], quotaBytes: null }),
      );
      const reads = Array.from({ length: 20 }, () => reader.messages(t.store.db, folder.id));
      await Promise.all([...writes, ...reads]);
      const final = await view();
      assert.equal(final.length, 14);
      assert.deepEqual(final, [...new Set(final)], 'no message twice');
      const again = await Promise.all(Array.from({ length: 5 }, () => view()));
      for (const list of again) assert.deepEqual(list, final);
    });
  });
}
