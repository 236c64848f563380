import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../../src/store/database.ts';
import { migrate, schemaVersion } from '../../src/store/migrate.ts';
import { latestSchemaVersion, migrations } from '../../src/store/migrations/index.ts';
import { openStore } from '../../src/store/store.ts';
import { Directory } from '../../src/directory/directory.ts';
import { ensureDefaultFolders, findFolder, usedBytes } from '../../src/mailbox/folders.ts';
import { backendNames, createBackend, skipFor } from '../helpers/backends.ts';

for (const name of backendNames) {
  describe(`store migrations on ${name}`, { skip: skipFor(name) }, () => {
    it('creates the schema on an empty database, then does nothing the second time', async () => {
      const backend = await createBackend(name);
      try {
        const first = await openStore({ location: backend.location, dataDir: backend.dataDir });
        assert.deepEqual(first.migration, { from: 0, to: latestSchemaVersion, backup: undefined });
        await first.store.close();
        const second = await openStore({ location: backend.location, dataDir: backend.dataDir });
        assert.deepEqual(second.migration, { from: latestSchemaVersion, to: latestSchemaVersion });
        await second.store.close();
      } finally {
        await backend.cleanup();
      }
    });

    it('refuses a database whose schema is newer than the code', async () => {
      const backend = await createBackend(name);
      try {
        const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
        await store.db
          .insertInto('holdfast_schema')
          .values({ version: latestSchemaVersion + 5, name: 'from-the-future', applied_at: 0 })
          .execute();
        await store.close();
        await assert.rejects(
          openStore({ location: backend.location, dataDir: backend.dataDir }),
          (error: Error & { code?: string }) => {
            assert.equal(error.code, 'schema-too-new');
            assert.match(
              error.message,
              new RegExp(
                `schema is version ${latestSchemaVersion + 5} but this Holdfast knows only up to version ${latestSchemaVersion}`,
              ),
            );
            return true;
          },
        );
      } finally {
        await backend.cleanup();
      }
    });

    it(`applies newer migrations in order${name === 'sqlite' ? ', after copying the database aside' : ''}`, async () => {
      const backend = await createBackend(name);
      const handle = await openDatabase(backend.location);
      try {
        await migrate(handle, Date.now(), migrations.slice(0, 1));
        await handle.db.insertInto('forests').values({ name: 'kept', max_connections: 5, created_at: 1 }).execute();
        const extra = {
          version: latestSchemaVersion + 1,
          name: 'test-extra-table',
          // biome-ignore lint/suspicious/noExplicitAny: migrations take an untyped Kysely, as src/store/migrations do
          up: async (db: any) => db.schema.createTable('test_extra').addColumn('x', 'text').execute(),
        };
        const result = await migrate(handle, Date.parse('2026-01-02T03:04:05Z'), [...migrations, extra]);
        assert.equal(result.to, latestSchemaVersion + 1);
        assert.equal(await schemaVersion(handle.db), latestSchemaVersion + 1);
        if (name === 'sqlite') {
          assert.ok(result.backup && existsSync(result.backup), 'backup file exists');
          assert.match(result.backup, /backups\/holdfast-schema-v1-2026-01-02T03-04-05-000Z\.sqlite$/);
          const copy = new SqliteDatabase(result.backup, { readonly: true });
          assert.deepEqual(copy.prepare('select name from forests').all(), [{ name: 'kept' }]);
          assert.equal((copy.prepare('select max(version) as v from holdfast_schema').get() as { v: number }).v, 1);
          copy.close();
        } else {
          assert.equal(result.backup, undefined);
        }
      } finally {
        await handle.close();
        await backend.cleanup();
      }
    });

    it('counts the bytes of the messages a mailbox held before schema v9 kept the count, and names them as Emails', async () => {
      const backend = await createBackend(name);
      const handle = await openDatabase(backend.location);
      try {
        await migrate(
          handle,
          Date.now(),
          migrations.filter((m) => m.version <= 8),
        );
        const directory = new Directory(handle.db);
        await directory.addForest({ name: 'default' });
        await directory.addTenant({ name: 'default', forest: 'default' });
        const tenant = await directory.tenant('default');
        await tenant.addDomain('old.example');
        const user = await tenant.addPrincipal({
          kind: 'user',
          address: 'olga@old.example',
          password: 'Wonderland-42',
        });
        await ensureDefaultFolders(handle.db, user, Date.now());
        const sizes = [300, 1200, 5000];
        for (const [i, size] of sizes.entries()) {
          const folder = (await findFolder(handle.db, user.id, i === 2 ? 'Archive' : 'INBOX'))!;
          // The row as schema v8 had it (today's append writes columns of later versions).
          await sql`insert into messages (tenant_id, mailbox_id, uid, blob_hash, prefix, size, flags, modseq,
            internal_date, created_at) values (${folder.tenant_id}, ${folder.id}, ${i + 1}, ${`hash-${i}`}, '',
            ${size}, '', 1, ${Date.now()}, ${Date.now()})`.execute(handle.db);
        }
        await migrate(handle, Date.now());
        assert.equal(
          await usedBytes(handle.db, user.id),
          sizes.reduce((a, b) => a + b, 0),
        );
        // Migration 22: each older message is an Email of its own, in a thread of its own, named by its row id.
        const rows = await handle.db.selectFrom('messages').select(['id', 'email_id', 'thread_id']).execute();
        assert.equal(rows.length, sizes.length);
        for (const row of rows)
          assert.deepEqual([Number(row.email_id), Number(row.thread_id)], [row.id, row.id].map(Number));
      } finally {
        await handle.close();
        await backend.cleanup();
      }
    });

    it('rolls back a migration that fails, leaving the schema version unchanged', async () => {
      const backend = await createBackend(name);
      const handle = await openDatabase(backend.location);
      try {
        await migrate(handle);
        const broken = {
          version: latestSchemaVersion + 1,
          name: 'broken',
          // biome-ignore lint/suspicious/noExplicitAny: migrations take an untyped Kysely, as src/store/migrations do
          up: async (db: any) => {
            await db.schema.createTable('half_done').addColumn('x', 'text').execute();
            await db.schema.createTable('forests').addColumn('x', 'text').execute(); // already exists
          },
        };
        await assert.rejects(migrate(handle, Date.now(), [...migrations, broken]));
        assert.equal(await schemaVersion(handle.db), latestSchemaVersion);
        const tables = (await handle.db.introspection.getTables()).map((t) => t.name);
        assert.ok(!tables.includes('half_done'), 'the failed migration left no table behind');
      } finally {
        await handle.close();
        await backend.cleanup();
      }
    });
  });
}

describe('the list of migrations', () => {
  it('is numbered 1 to N without a gap, so that none added later is skipped by stores past its number', () => {
    assert.deepEqual(
      migrations.map((m) => m.version),
      Array.from({ length: latestSchemaVersion }, (_, i) => i + 1),
    );
  });
});
