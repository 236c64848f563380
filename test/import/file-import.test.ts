// Importing mail from mbox files and Maildirs, calendars from .ics files, and exporting a mailbox
// and importing the export again, on both stores: what goes in (folders, flags, dates, bytes), that
// a second run adds nothing, that the quota is kept, and that export → import gives every message
// back byte for byte.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listObjects, listCalendars } from '../../src/calendar/calendars.ts';
import { deliver } from '../../src/mailbox/delivery.ts';
import { listFolders } from '../../src/mailbox/folders.ts';
import { listMessageStates, messagesByUid } from '../../src/mailbox/messages.ts';
import { openStoredMessage } from '../../src/message/stored-message.ts';
import { exportAccount } from '../../src/import-export/account-export.ts';
import { importIcs } from '../../src/import-export/ics-import.ts';
import { ImportReport } from '../../src/import-export/import-report.ts';
import { MailTarget } from '../../src/import-export/mail-target.ts';
import { findMaildirFolders, importMaildir } from '../../src/import-export/maildir-import.ts';
import { findMboxFiles, importMboxFiles } from '../../src/import-export/mbox-import.ts';
import type { Principal } from '../../src/directory/principal.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { createTestStore, type TestStore } from '../helpers/store.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'import');

async function bytesOf(t: TestStore, row: { prefix: string; blobHash: string }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of openStoredMessage(t.store.blobs, row)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Every message of a principal: folder → messages in UID order, with bytes, flags and date. */
async function mailOf(t: TestStore, principalId: number) {
  const out = new Map<string, { bytes: Buffer; flags: string[]; internalDate: number; specialUse: string | null }[]>();
  for (const folder of await listFolders(t.store.db, principalId)) {
    const uids = (await listMessageStates(t.store.db, folder.id)).map((m) => m.uid);
    const rows = await messagesByUid(t.store.db, folder.id, uids);
    const messages = [];
    for (const row of rows)
      messages.push({
        bytes: await bytesOf(t, row),
        flags: row.flags,
        internalDate: row.internalDate,
        specialUse: folder.special_use,
      });
    out.set(folder.name, messages);
  }
  return out;
}

for (const name of backendNames) {
  describe(`importing mbox, Maildir and iCalendar files, and exporting, on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestStore;
    let scratch: string;
    let user = 0;
    const newUser = async (quotaBytes: number | null = null): Promise<Principal> => {
      const tenant = await t.directory.tenant('contoso');
      return tenant.addPrincipal({
        kind: 'user',
        address: `user${++user}@contoso.example`,
        password: 'Correct-Horse-7',
        quotaBytes,
      });
    };
    const mailImport = async (
      owner: Principal,
      run: (parts: { target: MailTarget; blobs: TestStore['store']['blobs']; report: ImportReport }) => Promise<void>,
    ) => {
      const target = await MailTarget.open(t.store, owner);
      const report = new ImportReport();
      await run({ target, blobs: t.store.blobs, report });
      return report;
    };

    before(async () => {
      t = await createTestStore(name);
      await t.directory.addForest({ name: 'default' });
      await t.directory.addTenant({ name: 'contoso' });
      await (await t.directory.tenant('contoso')).addDomain('contoso.example');
      scratch = await mkdtemp(join(tmpdir(), 'holdfast-import-'));
    });
    after(async () => {
      await t.close();
      await rm(scratch, { recursive: true, force: true });
    });

    it('imports an mbox file: From_ dates, mboxrd quoting undone, flags from Status fields, CRLF lines; a re-run adds nothing', async () => {
      const owner = await newUser();
      const file = join(fixtures, 'sample.mbox');
      const first = await mailImport(owner, async (parts) =>
        importMboxFiles(parts, await findMboxFiles(file, undefined)),
      );
      assert.deepEqual(
        { ...first.totals, bytesCopied: 0 },
        { folders: 1, found: 5, copied: 5, skipped: 0, failed: 0, bytesCopied: 0 },
      );
      const inbox = (await mailOf(t, owner.id)).get('INBOX')!;
      assert.equal(inbox.length, 5, 'the same message twice in one folder is kept twice');
      const [plans, anonymous, twice1, twice2, dave] = inbox;
      assert.equal(plans!.internalDate, Date.UTC(2026, 0, 5, 9, 30, 0));
      assert.deepEqual(plans!.flags, ['$Important', '\\Answered', '\\Flagged', '\\Seen', 'project-x']);
      const text = plans!.bytes.toString('latin1');
      assert.ok(!/\nStatus:|\nX-Status:|\nX-Keywords:/.test(text), 'the mbox state fields are not part of the message');
      assert.match(text, /\r\nFrom the top, the plan is:\r\n>From here it gets quoted twice\.\r\nFrom the start/);
      assert.ok(!/[^\r]\n/.test(text), 'every line ends in CRLF');
      assert.ok(
        text.endsWith('Alice\r\n'),
        'the blank line before the next From_ line is the separator, not the message',
      );
      assert.deepEqual(anonymous!.flags, []);
      assert.ok(anonymous!.bytes.toString().endsWith('blank line.\r\n\r\n'));
      assert.deepEqual(twice1!.bytes, twice2!.bytes);
      assert.equal(dave!.internalDate, Date.UTC(2026, 0, 8, 10, 0, 0));

      const again = await mailImport(owner, async (parts) =>
        importMboxFiles(parts, await findMboxFiles(file, undefined)),
      );
      assert.deepEqual([again.totals.copied, again.totals.skipped], [0, 5]);
      assert.equal((await mailOf(t, owner.id)).get('INBOX')!.length, 5);
    });

    it('imports a readpst -r tree: one folder per mbox, Sent Items and Deleted Items into the special-use folders', async () => {
      const owner = await newUser();
      const files = await findMboxFiles(join(fixtures, 'readpst-tree', 'Mailbox'), undefined);
      assert.deepEqual(
        files.map((f) => f.folder),
        ['Deleted Items', 'Inbox', 'Projects/Alpha', 'Sent Items'],
      );
      const report = await mailImport(owner, (parts) => importMboxFiles(parts, files));
      assert.equal(report.totals.copied, 4);
      const mail = await mailOf(t, owner.id);
      assert.equal(mail.get('INBOX')!.length, 1);
      assert.equal(mail.get('Sent')!.length, 1, 'Sent Items went into the \\Sent folder');
      assert.equal(mail.get('Trash')!.length, 1, 'Deleted Items went into the \\Trash folder');
      assert.equal(mail.get('Projects/Alpha')!.length, 1);
      assert.ok(mail.has('Projects'), 'the parent folder is made too');
      assert.ok(!mail.has('Sent Items') && !mail.has('Inbox'));
    });

    it('imports a Maildir++: INBOX, subfolders (modified UTF-7 names), flags and keywords from the file names, file times as dates', async () => {
      const owner = await newUser();
      const dir = join(scratch, `maildir-${name}`);
      await cp(join(fixtures, 'maildir'), dir, { recursive: true });
      let time = Date.UTC(2026, 0, 5, 8, 0, 0) / 1000;
      for (const sub of ['cur', 'new', '.Sent/cur', '.Projects.2026/cur', '.&AMQ-rger/cur'])
        for (const file of await readdir(join(dir, sub))) await utimes(join(dir, sub, file), time, (time += 60));
      const folders = await findMaildirFolders(dir);
      const first = await mailImport(owner, (parts) => importMaildir(parts, folders));
      assert.deepEqual([first.totals.copied, first.totals.failed], [5, 0]);
      const mail = await mailOf(t, owner.id);
      const [read, unread] = mail.get('INBOX')!;
      assert.deepEqual(read!.flags, ['$Important', '\\Flagged', '\\Seen', 'project-x']);
      assert.equal(read!.internalDate, Date.UTC(2026, 0, 5, 8, 1, 0));
      assert.deepEqual(unread!.flags, []);
      assert.ok(read!.bytes.toString().includes('\r\nSubject: read and flagged\r\n'));
      assert.deepEqual(mail.get('Sent')![0]!.flags, ['\\Answered', '\\Seen']);
      assert.equal(mail.get('Projects/2026')!.length, 1);
      assert.deepEqual(mail.get('Ärger')![0]!.flags, ['\\Draft', '\\Seen']);
      const again = await mailImport(owner, (parts) => importMaildir(parts, folders));
      assert.deepEqual([again.totals.copied, again.totals.skipped], [0, 5]);
    });

    it('streams a large message into the blob store and keeps its bytes', async () => {
      const owner = await newUser();
      const line = `${'QUJD'.repeat(19)}\n`;
      const body = line.repeat(Math.ceil((3 * 1024 * 1024) / line.length));
      const file = join(scratch, `large-${name}.mbox`);
      await writeFile(
        file,
        `From big@example.org Mon Jan  5 09:30:00 2026\nFrom: big@example.org\nSubject: large\nMessage-ID: <large@example.org>\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${body}\n`,
      );
      const report = await mailImport(owner, async (parts) => importMboxFiles(parts, await findMboxFiles(file, 'Big')));
      assert.equal(report.totals.copied, 1);
      const [message] = (await mailOf(t, owner.id)).get('Big')!;
      const expected = Buffer.from(
        `From: big@example.org\r\nSubject: large\r\nMessage-ID: <large@example.org>\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body.replaceAll('\n', '\r\n')}`,
      );
      assert.equal(message!.bytes.length, expected.length);
      assert.ok(message!.bytes.equals(expected));
    });

    it('reports messages over quota as failed, with the reason, and goes on', async () => {
      const owner = await newUser(700);
      const file = join(fixtures, 'sample.mbox');
      const report = await mailImport(owner, async (parts) =>
        importMboxFiles(parts, await findMboxFiles(file, undefined)),
      );
      assert.ok(report.totals.copied >= 1 && report.totals.failed >= 1, JSON.stringify(report.totals));
      assert.equal(report.totals.copied + report.totals.failed, 5);
      assert.match(report.failures[0]!.reason, /mailbox is full \(quota 700B\)/);
      assert.match(report.failures[0]!.message, /^message \d$/);
    });

    it('imports an .ics file one object per UID with its time zones; an invalid object is refused with its reason, the rest go in', async () => {
      const owner = await newUser();
      const text = await readFile(join(fixtures, 'calendar.ics'), 'utf8');
      const report = await importIcs(t.store.db, owner, text, { name: 'calendar.ics', calendar: 'work' });
      assert.deepEqual(
        { found: report.found, created: report.created, failed: report.failed },
        { found: 5, created: 3, failed: 2 },
      );
      assert.deepEqual(
        report.failures.map((f) => f.reason),
        [
          'VEVENT (no UID, VEVENT 1): the VEVENT has no UID',
          'VEVENT backwards@example.com: the VEVENT ends (2026-01-10T11:00:00Z) before it starts (2026-01-10T12:00:00Z)',
        ],
      );
      const calendar = (await listCalendars(t.store.db, owner.id)).find((c) => c.uri === 'work')!;
      assert.equal(calendar.display_name, 'Work');
      const objects = await listObjects(t.store.db, calendar.id);
      const standup = objects.find((o) => o.uid === 'weekly-standup@example.com')!;
      assert.match(standup.data, /TZID:Europe\/Berlin/);
      assert.ok(!standup.data.includes('Unused/Zone'), 'only the time zones the object uses');
      assert.ok(!standup.data.includes('METHOD'), 'a published file’s METHOD is not part of an object');
      assert.equal((standup.data.match(/BEGIN:VEVENT/g) ?? []).length, 2, 'the override stays with its master');
      assert.ok(objects.some((o) => o.component === 'VTODO'));

      const again = await importIcs(t.store.db, owner, text, { name: 'calendar.ics', calendar: 'work' });
      assert.deepEqual([again.created, again.updated, again.unchanged], [0, 0, 3]);
    });

    it('refuses a file that is not iCalendar with a precise error, importing nothing', async () => {
      const owner = await newUser();
      const text = await readFile(join(fixtures, 'not-icalendar.ics'), 'utf8');
      await assert.rejects(() => importIcs(t.store.db, owner, text, { name: 'not-icalendar.ics' }), {
        code: 'valid-calendar-data',
        message: /^not-icalendar\.ics is not valid iCalendar: /,
      });
      const calendars = await listCalendars(t.store.db, owner.id);
      for (const calendar of calendars) assert.equal((await listObjects(t.store.db, calendar.id)).length, 0);
    });

    it('exports a mailbox (an mbox per folder, an .ics per calendar) and imports it back byte for byte', async () => {
      const owner = await newUser();
      // Delivered mail (with the Return-Path delivery adds), imported mail with flags, a message
      // quoting From lines, an empty folder and a calendar.
      const blob = await t.store.blobs.put(
        Buffer.from('From: x@outside.example\r\nSubject: delivered\r\n\r\nFrom now on\r\n>From before\r\n'),
      );
      await t.store.db.transaction().execute((trx) =>
        deliver(
          trx,
          [
            {
              recipient: owner,
              message: {
                sender: 'x@outside.example',
                blobHash: blob.hash,
                prefix: 'Received: from somewhere\r\n',
                size: blob.size + 26,
                receivedAt: Date.UTC(2026, 1, 2, 3, 4, 5, 678),
              },
              key: 'delivered-1',
            },
          ],
          Date.now(),
        ),
      );
      await mailImport(owner, async (parts) => {
        await importMboxFiles(parts, await findMboxFiles(join(fixtures, 'sample.mbox'), 'Archive/2026'));
        await importMboxFiles(parts, await findMboxFiles(join(fixtures, 'readpst-tree', 'Mailbox'), undefined));
      });
      await importIcs(t.store.db, owner, await readFile(join(fixtures, 'calendar.ics'), 'utf8'), { name: 'c.ics' });

      const out = join(scratch, `export-${name}`);
      const exported = await exportAccount(t.store, owner, out);
      assert.ok(exported.folders.some((f) => f.file === 'mail/INBOX.mbox' && f.messages === 2));
      assert.ok(exported.folders.some((f) => f.file === 'mail/Archive/2026.mbox' && f.messages === 5));
      assert.deepEqual(
        exported.calendars.map((c) => [c.file, c.objects]),
        [['calendars/calendar.ics', 3]],
      );
      const inbox = await readFile(join(out, 'mail', 'INBOX.mbox'), 'latin1');
      assert.match(inbox, /^From x@outside\.example Mon Feb {2}2 03:04:05 2026\n/);
      assert.match(inbox, /\n>From now on\n>>From before\n/);
      assert.ok(!inbox.includes('\r'), 'mbox lines end in LF');
      assert.ok(JSON.parse(await readFile(join(out, 'export.json'), 'utf8')).folders.length >= 6);
      await assert.rejects(() => exportAccount(t.store, owner, out), { code: 'export-target-exists' });
      assert.deepEqual(
        (await readdir(scratch)).filter((f) => f.includes('partial')),
        [],
        'nothing half-written is left',
      );

      const copy = await newUser();
      const report = await mailImport(copy, async (parts) =>
        importMboxFiles(parts, await findMboxFiles(join(out, 'mail'), undefined)),
      );
      assert.equal(report.totals.failed, 0);
      const before = await mailOf(t, owner.id);
      const after = await mailOf(t, copy.id);
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
      for (const [folder, messages] of before) {
        const back = after.get(folder)!;
        assert.equal(back.length, messages.length, folder);
        for (const [i, message] of messages.entries()) {
          assert.ok(back[i]!.bytes.equals(message.bytes), `${folder} message ${i + 1} byte for byte`);
          assert.deepEqual(back[i]!.flags, message.flags, `${folder} message ${i + 1} flags`);
          assert.equal(back[i]!.internalDate, Math.floor(message.internalDate / 1000) * 1000, 'date to the second');
          assert.equal(back[i]!.specialUse, message.specialUse);
        }
      }
      const ics = await readFile(join(out, 'calendars', 'calendar.ics'), 'utf8');
      const back = await importIcs(t.store.db, copy, ics, { name: 'calendar.ics' });
      assert.deepEqual([back.created, back.failed], [3, 0]);
      const calendar = (await listCalendars(t.store.db, copy.id))[0]!;
      assert.equal((await listObjects(t.store.db, calendar.id)).length, 3);
    });
  });
}
