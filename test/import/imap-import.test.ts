// `holdfast import imap` against a real Dovecot on loopback, on both stores, as an administrator
// runs it: every folder with its special use mapped, flags, keywords and internal dates, the bytes
// of each message (a large one and one without Message-ID among them); a run killed half-way is
// finished by running it again, and a run after that copies nothing. The same mailbox then comes in
// from Dovecot's Maildir on disk, and goes out and back in through `holdfast export` and `import mbox`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { Directory } from '../../src/directory/directory.ts';
import { listFolders } from '../../src/mailbox/folders.ts';
import { listMessageStates, messagesByUid } from '../../src/mailbox/messages.ts';
import { openStoredMessage } from '../../src/message/stored-message.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { backendNames, skipFor, type TestBackend } from '../helpers/backends.ts';
import { holdfastBin, runHoldfast } from '../helpers/cli.ts';
import { dovecotInstalled, startDovecotSource, type DovecotSource } from './dovecot-source.ts';
import { type ImportInstallation, importInstallation } from './installation.ts';

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
const message = (n: string, extra = '') =>
  crlf(
    `From: Sender ${n} <sender${n}@example.org>\nTo: alice@example.com\nSubject: message ${n}\nDate: Mon, 1 Dec 2025 10:00:00 +0100\n${extra}\nBody of ${n}.\n`,
  );
const withId = (n: string) => message(n, `Message-ID: <${n}@example.org>\n`);
const largeLine = `${'TGFyZ2Ug'.repeat(9)}\r\n`;
const large =
  crlf(
    'From: big@example.org\nSubject: large\nMessage-ID: <large@example.org>\nMIME-Version: 1.0\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n',
  ) + largeLine.repeat(Math.ceil((3 * 1024 * 1024) / largeLine.length));

/** What the source holds: folder → [content, flags, internal date]. */
const seed: Record<string, [string, string[], string][]> = {
  INBOX: [
    [withId('one'), ['\\Seen', '$Important'], '01-Dec-2025 10:00:05 +0100'],
    [withId('two'), ['\\Flagged', '\\Answered', 'project-x'], '02-Dec-2025 11:30:00 +0000'],
    [message('anonymous'), ['\\Seen'], '03-Dec-2025 12:00:00 -0500'],
    [large, [], '04-Dec-2025 09:00:00 +0000'],
    [withId('twice'), [], '05-Dec-2025 09:00:00 +0000'],
    [withId('twice'), [], '05-Dec-2025 09:00:00 +0000'],
  ],
  'Sent Messages': [
    [withId('sent-1'), ['\\Seen'], '06-Dec-2025 09:00:00 +0000'],
    [withId('sent-2'), ['\\Seen'], '06-Dec-2025 09:05:00 +0000'],
  ],
  'Deleted Messages': [[withId('deleted'), ['\\Seen', '\\Deleted'], '07-Dec-2025 09:00:00 +0000']],
  Drafts: [[message('draft'), ['\\Draft'], '08-Dec-2025 09:00:00 +0000']],
  Projects: [[withId('project'), [], '09-Dec-2025 09:00:00 +0000']],
  'Projects.2026': [[withId('project-2026'), ['\\Seen'], '10-Dec-2025 09:00:00 +0000']],
  'All Mail': [[withId('virtual'), [], '11-Dec-2025 09:00:00 +0000']],
  Bulk: Array.from({ length: 400 }, (_, i) => [
    withId(`bulk-${i}`),
    i % 2 ? ['\\Seen'] : [],
    '12-Dec-2025 09:00:00 +0000',
  ]),
};
/** Source folder → the folder it must land in (All Mail is a virtual folder and is passed over). */
const expectedFolders: Record<string, string> = {
  INBOX: 'INBOX',
  'Sent Messages': 'Sent',
  'Deleted Messages': 'Trash',
  Drafts: 'Drafts',
  Projects: 'Projects',
  'Projects.2026': 'Projects/2026',
  Bulk: 'Bulk',
};
const total = Object.entries(seed)
  .filter(([folder]) => folder in expectedFolders)
  .reduce((n, [, messages]) => n + messages.length, 0);

function sourceClient(dovecot: DovecotSource): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.imapsPort,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'carol', pass: dovecot.password },
    logger: false,
  });
  client.on('error', () => {});
  return client;
}

async function seedSource(dovecot: DovecotSource) {
  const client = sourceClient(dovecot);
  await client.connect();
  for (const [folder, messages] of Object.entries(seed)) {
    if (folder !== 'INBOX') await client.mailboxCreate(folder).catch(() => {});
    for (const [content, flags, date] of messages) await client.append(folder, content, flags, date);
  }
  await client.logout();
}

/** The source's messages as IMAP reports them: folder → [bytes, flags, internal date] in UID order. */
async function sourceMail(dovecot: DovecotSource) {
  const client = sourceClient(dovecot);
  await client.connect();
  const out = new Map<string, { bytes: Buffer; flags: string[]; internalDate: number }[]>();
  for (const folder of Object.keys(expectedFolders)) {
    const lock = await client.getMailboxLock(folder, { readOnly: true });
    const messages = [];
    for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true }))
      messages.push({
        bytes: m.source!,
        flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(),
        internalDate: new Date(m.internalDate!).getTime(),
      });
    lock.release();
    out.set(folder, messages);
  }
  await client.logout();
  return out;
}

async function holdfastMail(store: Store, address: string) {
  const directory = new Directory(store.db);
  const owner = await (await directory.tenantOfDomain('test.example')).getPrincipal(address);
  const out = new Map<string, { bytes: Buffer; flags: string[]; internalDate: number }[]>();
  for (const folder of await listFolders(store.db, owner.id)) {
    const uids = (await listMessageStates(store.db, folder.id)).map((m) => m.uid);
    const messages = [];
    for (const row of await messagesByUid(store.db, folder.id, uids)) {
      const parts: Buffer[] = [];
      for await (const chunk of openStoredMessage(store.blobs, row)) parts.push(chunk as Buffer);
      messages.push({ bytes: Buffer.concat(parts), flags: [...row.flags].sort(), internalDate: row.internalDate });
    }
    out.set(folder.name, messages);
  }
  return out;
}

const skipAll = dovecotInstalled ? false : 'Dovecot is not installed (apt-get install dovecot-imapd)';

describe('holdfast import imap from Dovecot', { skip: skipAll }, () => {
  let dovecot: DovecotSource;
  let source: Awaited<ReturnType<typeof sourceMail>>;
  before(async () => {
    dovecot = await startDovecotSource();
    await seedSource(dovecot);
    source = await sourceMail(dovecot);
  });
  after(() => dovecot?.stop());

  for (const name of backendNames) {
    describe(`into ${name}`, { skip: skipFor(name) }, () => {
      let backend: TestBackend;
      let env: Record<string, string>;
      let scratch: string;
      const imaps = () => `imaps://127.0.0.1:${dovecot.imapsPort}`;
      const importArgs = (url: string, to = 'alice@test.example') => [
        'import',
        'imap',
        '--from',
        url,
        '--user',
        'carol',
        '--password-stdin',
        '--insecure',
        '--to',
        to,
      ];
      const inStore = async <T>(fn: (store: Store) => Promise<T>): Promise<T> => {
        const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
        try {
          return await fn(store);
        } finally {
          await store.close();
        }
      };

      let installation: ImportInstallation;
      before(async () => {
        installation = await importInstallation(name, ['alice', 'bob', 'dave']);
        ({ backend, scratch, env } = installation);
      });
      after(() => installation?.cleanup());

      it('stops where it is killed, and a second run copies the rest', async () => {
        const child = spawn(process.execPath, [holdfastBin, ...importArgs(imaps()), '--json'], {
          env: { ...process.env, HOLDFAST_LOG_FORMAT: 'json', ...env },
        });
        child.stdin.end(`${dovecot.password}\n`);
        let stderr = '';
        const killed = new Promise<void>((resolve) => {
          child.stderr.on('data', (data) => {
            stderr += data;
            if (/^Bulk: [1-9]\d{2}\/400 /m.test(stderr) && child.exitCode === null) child.kill('SIGKILL');
          });
          child.on('close', () => resolve());
        });
        await killed;
        assert.equal(child.signalCode, 'SIGKILL', `the import ended before it could be interrupted:\n${stderr}`);
        const partial = await inStore((store) => holdfastMail(store, 'alice@test.example'));
        const bulk = partial.get('Bulk')?.length ?? 0;
        assert.ok(bulk >= 100 && bulk < 400, `${bulk} of Bulk's 400 messages were copied before the kill`);
        assert.equal(partial.get('INBOX')!.length, 6);

        // Resumed over imap:// with STARTTLS this time.
        const resumed = await runHoldfast([...importArgs(`imap://127.0.0.1:${dovecot.imapPort}`), '--json'], {
          env,
          input: `${dovecot.password}\n`,
        });
        assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
        const summary = JSON.parse(resumed.stdout);
        assert.equal(summary.complete, true);
        assert.equal(summary.failed, 0);
        assert.equal(summary.found, total);
        assert.equal(summary.skipped, 6 + bulk, 'what the first run copied is skipped');
        assert.equal(summary.copied, total - 6 - bulk);
        assert.match(
          summary.folderReports.find((f: { source: string }) => f.source === 'All Mail').note,
          /virtual folder/,
        );
        assert.match(resumed.stderr, /^Bulk: 400\/400 {2}copied \d+ {2}skipped \d+ {2}failed 0 \(done\)$/m);
      });

      /** Every source folder is in its target folder: the same bytes and flags (and internal dates). */
      const assertCopied = (mail: Awaited<ReturnType<typeof holdfastMail>>, { dates }: { dates: boolean }) => {
        for (const [folder, target] of Object.entries(expectedFolders)) {
          const want = source.get(folder)!;
          const got = mail.get(target) ?? [];
          assert.equal(got.length, want.length, `${folder} → ${target}`);
          for (const [i, m] of want.entries()) {
            assert.ok(got[i]!.bytes.equals(m.bytes), `${target} message ${i + 1}: the same bytes`);
            assert.deepEqual(got[i]!.flags, m.flags, `${target} message ${i + 1}: the same flags`);
            if (dates)
              assert.equal(got[i]!.internalDate, m.internalDate, `${target} message ${i + 1}: the same internal date`);
          }
        }
      };

      it('has copied every folder into its place with flags, keywords, dates and bytes as the source has them', async () => {
        const mail = await inStore((store) => holdfastMail(store, 'alice@test.example'));
        assertCopied(mail, { dates: true });
        assert.ok(!mail.has('All Mail') && !mail.has('Sent Messages') && !mail.has('Deleted Messages'));
        assert.ok(mail.get('INBOX')![3]!.bytes.length > 3_000_000, 'the large message came whole');
      });

      it('copies nothing on a run after a complete one', async () => {
        const again = await runHoldfast(importArgs(imaps()), { env, input: `${dovecot.password}\n` });
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.match(
          again.stdout,
          new RegExp(
            `^imported into alice@test\\.example from imaps://127\\.0\\.0\\.1:\\d+: 7 folder\\(s\\), 0 message\\(s\\) copied \\(0B\\), ${total} skipped \\(already there\\), 0 failed$`,
            'm',
          ),
        );
        assert.match(again.stdout, /^Sent Messages +Sent +2 +0 +2 +0/m);
      });

      it('says in one line why it cannot start: a wrong password, an unverified certificate', async () => {
        const wrong = await runHoldfast(importArgs(imaps()), { env, input: 'not-the-password\n' });
        assert.equal(wrong.code, 1);
        assert.match(wrong.stderr, /^holdfast: imaps:\/\/127\.0\.0\.1:\d+ refused the sign-in: .+\n$/);
        const verified = await runHoldfast(
          importArgs(imaps()).filter((a) => a !== '--insecure'),
          { env, input: `${dovecot.password}\n` },
        );
        assert.equal(verified.code, 1);
        assert.match(verified.stderr, /^holdfast: cannot connect to imaps:\/\/127\.0\.0\.1:\d+: .*certificate.*\n$/);
      });

      it("imports the same mailbox from Dovecot's Maildir on disk", async () => {
        const result = await runHoldfast(
          ['import', 'maildir', dovecot.maildirOf('carol'), '--to', 'bob@test.example', '--json'],
          { env },
        );
        assert.equal(result.code, 0, result.stdout + result.stderr);
        const mail = await inStore((store) => holdfastMail(store, 'bob@test.example'));
        assertCopied(mail, { dates: false });
      });

      it('exports with holdfast export and brings it back with holdfast import mbox', async () => {
        const out = join(scratch, 'alice-export');
        const exported = await runHoldfast(['export', 'alice@test.example', '--to', out], { env });
        assert.equal(exported.code, 0, exported.stdout + exported.stderr);
        assert.match(
          exported.stdout,
          new RegExp(`^exported alice@test\\.example to ${out}: \\d+ folder\\(s\\), ${total} message\\(s\\)`, 'm'),
        );
        const imported = await runHoldfast(['import', 'mbox', join(out, 'mail'), '--to', 'dave@test.example'], { env });
        assert.equal(imported.code, 0, imported.stdout + imported.stderr);
        const [alice, dave] = await inStore(async (store) => [
          await holdfastMail(store, 'alice@test.example'),
          await holdfastMail(store, 'dave@test.example'),
        ]);
        for (const [folder, messages] of alice) {
          const back = dave.get(folder) ?? [];
          assert.equal(back.length, messages.length, folder);
          for (const [i, m] of messages.entries()) {
            assert.ok(back[i]!.bytes.equals(m.bytes), `${folder} message ${i + 1}: byte for byte`);
            assert.deepEqual(back[i]!.flags, m.flags);
          }
        }
      });
    });
  }
});
