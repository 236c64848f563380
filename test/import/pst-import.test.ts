// An Outlook PST into Holdfast through Debian's readpst (pst-utils), on both stores, as an
// administrator does it: `holdfast import pst FILE` (which runs readpst itself), and the documented
// two steps (readpst -D -r, then `holdfast import mbox`). What a user then sees over IMAP: the
// folders (Inbox into INBOX, Sent Items into Sent, Deleted Items into Trash, a subfolder under its
// parent), the messages with their subjects and Message-IDs, read state, and the dates Outlook had.
// The PST is test/import/fixtures/outlook-sample.pst (see the README there).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import { sample } from './fixtures/make-pst.ts';
import { type ImportInstallation, importInstallation } from './installation.ts';

const pst = join(import.meta.dirname, 'fixtures', 'outlook-sample.pst');
const readpstInstalled = !spawnSync('readpst', ['-V']).error;
const skipAll = readpstInstalled ? false : 'readpst is not installed (apt-get install pst-utils)';

/** What the user must see: IMAP folder → [subject, Message-ID, \Seen, internal date] in order. */
const expected: Record<string, [string, string, boolean, number][]> = {};
const expectedFolder: Record<string, string> = {
  Inbox: 'INBOX',
  'Inbox/Projects': 'INBOX/Projects',
  'Sent Items': 'Sent',
  'Deleted Items': 'Trash',
};
const walk = (folders: typeof sample, parent = '') => {
  for (const folder of folders) {
    const path = parent ? `${parent}/${folder.name}` : folder.name;
    expected[expectedFolder[path]!] = folder.messages.map((m) => [
      m.subject,
      m.messageId,
      m.read,
      // readpst writes the time Outlook sent it on the From_ line, to the second
      m.sent.getTime(),
    ]);
    walk(folder.folders ?? [], path);
  }
};
walk(sample);
const total = Object.values(expected).reduce((n, messages) => n + messages.length, 0);

async function imapView(server: StartedServer, user: string) {
  const client = imapflowClient(server.port('imaps'), user, 'Wonderland-42');
  await client.connect();
  try {
    const out: Record<string, [string, string, boolean, number][]> = {};
    for (const folder of await client.list()) {
      const lock = await client.getMailboxLock(folder.path, { readOnly: true });
      try {
        const messages: [string, string, boolean, number][] = [];
        for await (const m of client.fetch('1:*', { envelope: true, flags: true, internalDate: true }))
          messages.push([
            m.envelope!.subject!,
            m.envelope!.messageId!,
            m.flags!.has('\\Seen'),
            new Date(m.internalDate!).getTime(),
          ]);
        if (messages.length) out[folder.path] = messages;
      } finally {
        lock.release();
      }
    }
    return out;
  } finally {
    await client.logout();
  }
}

describe('importing an Outlook PST through readpst', { skip: skipAll }, () => {
  for (const name of backendNames) {
    describe(`into ${name}`, { skip: skipFor(name) }, () => {
      let scratch: string;
      let env: Record<string, string>;
      let installation: ImportInstallation;
      before(async () => {
        installation = await importInstallation(name, ['alice', 'bob']);
        ({ scratch, env } = installation);
      });
      after(() => installation?.cleanup());

      it('holdfast import pst runs readpst and imports every folder; a second run copies nothing', async () => {
        const first = await runHoldfast(['import', 'pst', pst, '--to', 'alice@test.example', '--json'], { env });
        assert.equal(first.code, 0, first.stdout + first.stderr);
        const summary = JSON.parse(first.stdout);
        assert.deepEqual([summary.folders, summary.found, summary.copied, summary.failed], [4, total, total, 0]);
        assert.equal(summary.from, pst);
        const again = await runHoldfast(['import', 'pst', pst, '--to', 'alice@test.example'], { env });
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.match(
          again.stdout,
          new RegExp(
            `: 4 folder\\(s\\), 0 message\\(s\\) copied \\(0B\\), ${total} skipped \\(already there\\), 0 failed$`,
            'm',
          ),
        );
      });

      it('the documented two steps, readpst -D -r and holdfast import mbox, import the same', async () => {
        const out = join(scratch, 'readpst');
        await mkdir(out);
        const converted = spawnSync('readpst', ['-D', '-r', '-o', out, pst], { encoding: 'utf8' });
        assert.equal(converted.status, 0, converted.stderr);
        const imported = await runHoldfast(
          ['import', 'mbox', join(out, 'Outlook Data File'), '--to', 'bob@test.example', '--json'],
          { env },
        );
        assert.equal(imported.code, 0, imported.stdout + imported.stderr);
        assert.equal(JSON.parse(imported.stdout).copied, total);
      });

      it('shows over IMAP the folders, messages, read state and dates the PST had', async () => {
        const server = await startHoldfast(env);
        try {
          for (const user of ['alice@test.example', 'bob@test.example'])
            assert.deepEqual(await imapView(server, user), expected, user);
        } finally {
          await server.stop();
        }
      });

      it('says in one line what is wrong: no readpst, a file that is not a PST, no such file', async () => {
        const noReadpst = await runHoldfast(['import', 'pst', pst, '--to', 'alice@test.example'], {
          env: { ...env, PATH: join(scratch, 'empty') },
        });
        assert.equal(noReadpst.code, 1);
        assert.match(noReadpst.stderr, /^holdfast: readpst is not installed: install pst-utils \([^\n]+\)\n$/);

        const text = join(scratch, 'notes.pst');
        await writeFile(text, 'These are not the folders you are looking for.\n');
        const notPst = await runHoldfast(['import', 'pst', text, '--to', 'alice@test.example'], { env });
        assert.equal(notPst.code, 1);
        assert.match(notPst.stderr, new RegExp(`^holdfast: readpst could not read ${text}: [^\\n]+\\n$`));

        const missing = await runHoldfast(['import', 'pst', join(scratch, 'nope.pst'), '--to', 'alice@test.example'], {
          env,
        });
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /^holdfast: \S+nope\.pst does not exist\n$/);
      });
    });
  }
});
