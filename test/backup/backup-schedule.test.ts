// Scheduled backups ([backup] schedule) on each backend: the schedule takes a verified backup when
// the last good one is older than its period (as child processes of the real `holdfast`), keeps
// `keep` of them, records each run; service health's "Backup" component fails when the last good
// backup is older than the schedule allows, with the last error; /metrics shows age and size; a bad
// setting names the key, the value and what is allowed.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listBackups } from '../../src/backup/backup-list.ts';
import { BackupSchedule } from '../../src/backup/backup-schedule.ts';
import { loadConfig } from '../../src/config/load.ts';
import { checkBackups } from '../../src/health/checks/backup-check.ts';
import type { ProbeContext } from '../../src/health/checks/probe-context.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { backendNames, skipFor, tempDir } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const hour = 3_600_000;

for (const name of backendNames) {
  describe(`scheduled backups on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let schedule: BackupSchedule;
    const config = () => t.node.holdfast.config;
    const context = (): ProbeContext => ({
      node: 'test',
      db: t.node.holdfast.store.db,
      settings: config().health,
      now: t.clock.now,
      scope: () => ({ tenants: [], forests: [], regions: [], nodes: [] }),
    });
    const runs = () => t.node.holdfast.store.db.selectFrom('backup_runs').selectAll().orderBy('started_at').execute();

    before(async () => {
      t = await startTestNode(name, { toml: '[backup]\nschedule = "6h"\nkeep = 2\n' });
      schedule = new BackupSchedule({
        db: t.node.holdfast.store.db,
        config: config(),
        node: 'test',
        logger: silentLogger(),
        now: t.clock.now,
      });
    });
    after(() => t?.stop());

    it('takes a verified backup when one is due, and not again before its period', async () => {
      assert.equal(config().backup.everyMs, 6 * hour);
      assert.equal(config().backup.to, join(t.backend.dataDir, 'backups', 'snapshots'));
      const [before] = await checkBackups(context(), config().backup);
      assert.equal(before!.state, 'healthy');
      assert.match(before!.detail, /No backup has been taken yet/);

      await schedule.round();
      const [run] = await runs();
      assert.equal(run!.state, 'verified', String(run!.error));
      assert.match(String(run!.backup_id), /^backup-/);
      assert.ok(Number(run!.bytes_written) > 0);
      assert.equal((await listBackups(config().backup.to)).length, 1);

      t.clock.advance(hour);
      await schedule.round();
      assert.equal((await runs()).length, 1, 'not due an hour later');
    });

    it('keeps `keep` backups as later ones are taken', async () => {
      for (let i = 0; i < 2; i++) {
        t.clock.advance(6 * hour);
        await schedule.round();
      }
      const all = await runs();
      assert.deepEqual(
        all.map((r) => r.state),
        ['verified', 'verified', 'verified'],
      );
      assert.equal((await listBackups(config().backup.to)).length, 2, 'keep = 2');
    });

    it('reports the backup age in /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${t.port('http')}/metrics`)).text();
      assert.match(text, /^holdfast_backup_last_success_timestamp_seconds \d+/m);
      assert.match(text, /^holdfast_backup_last_size_bytes [1-9]\d*/m);
      assert.match(text, /^holdfast_backup_last_run_failed 0$/m);
      assert.match(text, /^holdfast_backup_age_seconds /m);
    });

    it('records a failed run with its reason, and service health says when backups fall behind', async () => {
      const file = join(await tempDir(), 'not-a-directory');
      await writeFile(file, '');
      const failing = new BackupSchedule({
        db: t.node.holdfast.store.db,
        config: { ...config(), backup: { ...config().backup, to: join(file, 'backups') } },
        node: 'test',
        logger: silentLogger(),
        now: t.clock.now,
      });
      t.clock.advance(6 * hour);
      await failing.round();
      const last = (await runs()).at(-1)!;
      assert.equal(last.state, 'failed');
      assert.match(String(last.error), /not-a-directory/);

      const [fresh] = await checkBackups(context(), config().backup);
      assert.equal(fresh!.state, 'healthy', 'six hours: within the 9 h 10 min the schedule allows');
      t.clock.advance(4 * hour);
      const [late] = await checkBackups(context(), config().backup);
      assert.equal(late!.state, 'failing');
      assert.equal(late!.component, 'Backup');
      assert.match(late!.issue!.title, /The last verified backup is 10\.0 h old/);
      assert.match(late!.detail, /The last try failed: .*not-a-directory/);
      const text = await (await fetch(`http://127.0.0.1:${t.port('http')}/metrics`)).text();
      assert.match(text, /^holdfast_backup_last_run_failed 1$/m);
    });
  });
}

describe('[backup] configuration', () => {
  const load = async (toml: string) => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'holdfast.toml'), toml);
    return loadConfig({ env: { HOLDFAST_HOSTNAME: 'mail.example.com' }, cwd });
  };

  it('is off by default, keeping 7 under the data directory', async () => {
    const { backup, dataDir } = await load('');
    assert.deepEqual(backup, { everyMs: undefined, keep: 7, to: join(dataDir, 'backups', 'snapshots'), verify: true });
  });

  for (const [line, message] of [
    ['schedule = "30s"', 'backup.schedule = "30s" is not allowed: expected "off", or a duration of at least 1m'],
    ['keep = 0', 'backup.keep = 0 is not allowed: expected a number of backups to keep, 1 or more'],
  ] as const) {
    it(`refuses ${line}`, async () => {
      await assert.rejects(load(`[backup]\n${line}\n`), (error: Error) => error.message.includes(message));
    });
  }
});
