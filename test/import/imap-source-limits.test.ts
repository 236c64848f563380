// `holdfast import imap` against scripted IMAP sources on loopback, on both stores, as an
// administrator runs it: signing in with an OAuth 2.0 access token (SASL XOAUTH2, as Exchange
// Online and Gmail require) read from --access-token-stdin, and refused with one line when the
// token is bad; and a source offering messages larger than imap.append_limit, honestly or not:
// each is listed as not copied with its folder, size and the limit, and never downloaded whole.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Directory } from '../../src/directory/directory.ts';
import { listFolders } from '../../src/mailbox/folders.ts';
import { listMessageStates, messagesByUid } from '../../src/mailbox/messages.ts';
import { openStoredMessage } from '../../src/message/stored-message.ts';
import { openStore } from '../../src/store/store.ts';
import { backendNames, skipFor, type TestBackend } from '../helpers/backends.ts';
import { runHoldfast } from '../helpers/cli.ts';
import { startScriptedSource, type ScriptedMessage } from './scripted-imap-source.ts';
import { type ImportInstallation, importInstallation } from './installation.ts';

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
const mail = (n: string, body = `Body of ${n}.\n`) =>
  Buffer.from(
    crlf(
      `From: Sender <sender@old.example>\nTo: alice@old.example\nSubject: ${n}\nMessage-ID: <${n}@old.example>\nDate: Mon, 1 Dec 2025 10:00:00 +0000\n\n${body}`,
    ),
  );
const padded = (n: string, bytes: number) => {
  const head = mail(n, '');
  return Buffer.concat([head, Buffer.from(`${'x'.repeat(998)}\r\n`.repeat(Math.ceil((bytes - head.length) / 1000)))]);
};

/** 1 MB: the imap.append_limit of the installation under test. */
const limit = 1_000_000;
const window = 64 * 1024;
const token = 'EwBgA8l6BAAU.good-access-token';

async function mailOf(backend: TestBackend, address: string) {
  const { store } = await openStore({ location: backend.location, dataDir: backend.dataDir });
  try {
    const owner = await (await new Directory(store.db).tenantOfDomain('test.example')).getPrincipal(address);
    const out = new Map<string, { bytes: Buffer; flags: string[]; internalDate: number }[]>();
    for (const folder of await listFolders(store.db, owner.id)) {
      const uids = (await listMessageStates(store.db, folder.id)).map((m) => m.uid);
      const messages = [];
      for (const row of await messagesByUid(store.db, folder.id, uids)) {
        const parts: Buffer[] = [];
        for await (const chunk of openStoredMessage(store.blobs, row)) parts.push(chunk as Buffer);
        messages.push({ bytes: Buffer.concat(parts), flags: [...row.flags].sort(), internalDate: row.internalDate });
      }
      if (messages.length) out.set(folder.name, messages);
    }
    return out;
  } finally {
    await store.close();
  }
}

for (const name of backendNames) {
  describe(`holdfast import imap from scripted sources, into ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const importArgs = (url: string, secret: '--password-stdin' | '--access-token-stdin', to: string) => [
      'import',
      'imap',
      '--from',
      url,
      '--user',
      'alice@old.example',
      secret,
      '--insecure',
      '--to',
      to,
    ];

    let installation: ImportInstallation;
    before(async () => {
      installation = await importInstallation(name, ['alice', 'bob', 'carol', 'dave'], async (scratch) => {
        const config = join(scratch, 'holdfast.toml');
        await writeFile(config, `[imap]\nappend_limit = "${limit}"\n`);
        return { HOLDFAST_CONFIG: config };
      });
      ({ backend, env } = installation);
    });
    after(() => installation?.cleanup());

    describe('with an OAuth 2.0 access token (SASL XOAUTH2)', () => {
      const messages: ScriptedMessage[] = [
        { folder: 'INBOX', bytes: mail('welcome'), flags: ['\\Seen'], internalDate: '01-Dec-2025 10:00:05 +0000' },
        { folder: 'INBOX', bytes: mail('agenda'), flags: ['\\Flagged'], internalDate: '02-Dec-2025 11:30:00 +0100' },
        { folder: 'Sent Items', bytes: mail('reply'), flags: ['\\Seen'], internalDate: '03-Dec-2025 09:00:00 +0000' },
      ];
      let source: Awaited<ReturnType<typeof startScriptedSource>>;
      before(async () => {
        source = await startScriptedSource({
          user: 'alice@old.example',
          accessToken: token,
          folders: [{ name: 'INBOX' }, { name: 'Sent Items', specialUse: '\\Sent' }],
          messages,
        });
      });
      after(() => source?.stop());

      it('signs in with the token from standard input, in the exact XOAUTH2 form, and copies the mailbox', async () => {
        const result = await runHoldfast(
          [...importArgs(source.url, '--access-token-stdin', 'alice@test.example'), '--json'],
          { env, input: `${token}\n` },
        );
        assert.equal(result.code, 0, result.stdout + result.stderr);
        const summary = JSON.parse(result.stdout);
        assert.deepEqual([summary.found, summary.copied, summary.failed, summary.complete], [3, 3, 0, true]);
        const expected = Buffer.from(`user=alice@old.example\x01auth=Bearer ${token}\x01\x01`).toString('base64');
        assert.ok(
          source.commands.includes(`AUTHENTICATE XOAUTH2 ${expected}`),
          `the XOAUTH2 string, base64 of user=…^Aauth=Bearer …^A^A: ${source.commands.join(' | ')}`,
        );
        assert.ok(!source.commands.some((c) => /^LOGIN\b/i.test(c)), 'no password sign-in was tried');
        const got = await mailOf(backend, 'alice@test.example');
        assert.deepEqual(
          got.get('INBOX')!.map((m) => [m.bytes.toString(), m.flags, m.internalDate]),
          [
            [messages[0]!.bytes.toString(), ['\\Seen'], Date.UTC(2025, 11, 1, 10, 0, 5)],
            [messages[1]!.bytes.toString(), ['\\Flagged'], Date.UTC(2025, 11, 2, 10, 30, 0)],
          ],
        );
        assert.deepEqual(
          got.get('Sent')!.map((m) => m.bytes.toString()),
          [messages[2]!.bytes.toString()],
          '"Sent Items" (\\Sent) went into Sent',
        );
      });

      it('says in one line that the source refused a bad token, and copies nothing', async () => {
        const result = await runHoldfast(importArgs(source.url, '--access-token-stdin', 'bob@test.example'), {
          env,
          input: 'expired-or-revoked-token\n',
        });
        assert.equal(result.code, 1, result.stdout + result.stderr);
        assert.match(result.stderr, /^holdfast: imaps:\/\/127\.0\.0\.1:\d+ refused the sign-in: [^\n]+\n$/);
        assert.equal(result.stdout, '');
        assert.equal((await mailOf(backend, 'bob@test.example')).size, 0);
      });

      it('refuses to start without a token', async () => {
        const result = await runHoldfast(importArgs(source.url, '--access-token-stdin', 'bob@test.example'), {
          env,
          input: '',
        });
        assert.equal(result.code, 1);
        assert.match(result.stderr, /^holdfast: no password on standard input\n$/);
      });
    });

    describe('with messages larger than imap.append_limit', () => {
      const small = mail('small');
      const honest = padded('honest', 1_500_000);
      const liar = padded('liar', 3_000_000);
      const messages: ScriptedMessage[] = [
        { folder: 'INBOX', bytes: small, flags: ['\\Seen'], internalDate: '01-Dec-2025 10:00:00 +0000' },
        { folder: 'INBOX', bytes: honest, flags: [], internalDate: '02-Dec-2025 10:00:00 +0000' },
        {
          folder: 'INBOX',
          bytes: liar,
          flags: [],
          internalDate: '03-Dec-2025 10:00:00 +0000',
          announcedSize: 600_000,
        },
        {
          folder: 'INBOX',
          bytes: liar,
          flags: [],
          internalDate: '04-Dec-2025 10:00:00 +0000',
          announcedSize: 10_000,
        },
        { folder: 'INBOX', bytes: mail('after'), flags: [], internalDate: '05-Dec-2025 10:00:00 +0000' },
      ];
      let source: Awaited<ReturnType<typeof startScriptedSource>>;
      before(async () => {
        source = await startScriptedSource({
          user: 'alice@old.example',
          password: 'source-Secret-42',
          folders: [{ name: 'INBOX' }],
          messages,
        });
      });
      after(() => source?.stop());

      it('lists each as not copied with its folder, size and the limit, downloads neither whole, and copies the rest', async () => {
        const result = await runHoldfast(importArgs(source.url, '--password-stdin', 'carol@test.example'), {
          env,
          input: 'source-Secret-42\n',
        });
        assert.equal(result.code, 1, 'something was not copied');
        assert.match(
          result.stdout,
          /: 1 folder\(s\), 2 message\(s\) copied \([^)]+\), 0 skipped \(already there\), 3 failed$/m,
        );
        assert.match(
          result.stdout,
          /^ {2}INBOX UID 2: 1\.5MB, larger than the limit of 1MB \(imap\.append_limit\): not copied$/m,
        );
        assert.match(
          result.stdout,
          /^ {2}INBOX UID 3: the source sent more than the limit of 1MB \(imap\.append_limit\) for a message it announced as 600KB: not copied$/m,
        );
        assert.match(
          result.stdout,
          /^ {2}INBOX UID 4: the source sent more than twice the 10KB it announced: not copied$/m,
        );
        assert.equal(source.sent.get('INBOX/2') ?? 0, 0, 'the announced-too-large message was not fetched at all');
        for (const [uid, most] of [
          [3, limit + window],
          [4, 2 * 10_000 + 2 * window],
        ] as const) {
          const sent = source.sent.get(`INBOX/${uid}`) ?? 0;
          assert.ok(sent <= most, `${sent} bytes of UID ${uid}'s 3 MB were fetched`);
        }
        const got = await mailOf(backend, 'carol@test.example');
        assert.deepEqual(
          got.get('INBOX')!.map((m) => m.bytes.toString()),
          [small.toString(), messages[4]!.bytes.toString()],
        );
      });

      it('stops, saying why, when a source answers a window with a whole oversized message', async () => {
        const broken = await startScriptedSource({
          user: 'alice@old.example',
          password: 'source-Secret-42',
          folders: [{ name: 'INBOX' }],
          messages: [
            { folder: 'INBOX', bytes: small, flags: [], internalDate: '01-Dec-2025 10:00:00 +0000' },
            { ...messages[3]!, ignoreWindow: true },
          ],
        });
        try {
          const result = await runHoldfast(
            [...importArgs(broken.url, '--password-stdin', 'dave@test.example'), '--json'],
            { env, input: 'source-Secret-42\n' },
          );
          assert.equal(result.code, 1, result.stdout + result.stderr);
          const summary = JSON.parse(result.stdout);
          assert.deepEqual([summary.copied, summary.failed, summary.complete], [1, 1, false]);
          assert.deepEqual(summary.failures, [
            {
              folder: 'INBOX',
              message: 'UID 2',
              reason:
                'the source sent more than the limit of 1MB (imap.append_limit) for a message it announced as 10KB: not copied',
            },
          ]);
          assert.match(
            summary.stoppedBy,
            /^imaps:\/\/127\.0\.0\.1:\d+ sent more than imap\.append_limit at once: the connection was closed$/,
          );
        } finally {
          await broken.stop();
        }
      });
    });
  });
}
