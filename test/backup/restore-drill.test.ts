// The restore drill (issue 18 item 7), on each backend, with the commands an administrator runs:
// mail arrives over SMTP while `holdfast backup create` runs; the store is wiped; `holdfast backup
// verify` and `holdfast backup restore` bring it back into an empty one; a node starts on it. Every
// message answered 250 before the snapshot began is there byte for byte (queued ones delivered
// after the restore), an IMAP client with QRESYNC that had cached the INBOX sees a new UIDVALIDITY
// and resyncs, and a CalDAV client's old sync token is refused so that it syncs in full.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { cliOn, loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Backup-Drill-42';
const alice = 'alice@test.example';
// Leases of the wiped node's deliveries run out soon after the restore; the load is no abuse.
const settings = [
  '[queue]',
  'lease = "2s"',
  'poll_interval = "100ms"',
  '[limits]',
  'messages_per_minute = 100000',
  '',
].join('\n');

function qresyncClient(port: number): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: alice, pass: password },
    logger: false,
    qresync: true,
  });
  client.on('error', () => {});
  return client;
}

/** INBOX sources by Message-ID, over IMAP. */
async function fetchAll(client: ImapFlow): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for await (const message of client.fetch('1:*', { uid: true, source: true })) {
    const text = message.source!.toString('latin1');
    sources.set(/^Message-ID: *(<[^>]+>)/im.exec(text)![1]!, text);
  }
  return sources;
}

const messageIdOf = (text: string) => /^Message-ID: *(<[^>]+>)/im.exec(text)?.[1] ?? '';

function davRequest(node: TestNode, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return fetch(`http://127.0.0.1:${node.port('http')}${path}`, {
    method,
    body,
    headers: {
      authorization: `Basic ${Buffer.from(`${alice}:${password}`).toString('base64')}`,
      'content-type': 'application/xml',
      ...headers,
    },
  });
}

const calendarPath = `/dav/calendars/${alice}/calendar/`;
const syncReport = (token: string) =>
  `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
const eventText = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Holdfast//drill//EN',
  'BEGIN:VEVENT',
  'UID:drill-event',
  'DTSTAMP:20261201T090000Z',
  'DTSTART:20261202T100000Z',
  'DTEND:20261202T110000Z',
  'SUMMARY:Restore drill',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

for (const name of backendNames) {
  describe(`restore drill on ${name}`, { skip: skipFor(name) }, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    });

    it('restores every message answered before the snapshot, and clients resync', async (context) => {
      const to = await tempDir('holdfast-drill-');
      cleanups.push(() => rm(to, { recursive: true, force: true }));
      const source: TestBackend = await createBackend(name);
      cleanups.push(() => source.cleanup());
      const env = (backend: TestBackend) =>
        loopbackEnv(backend.dataDir, { HOLDFAST_DATABASE_URL: backend.databaseUrl });
      const t = await startTestNode(name, { backend: source, toml: settings });
      let stopped = false;
      cleanups.push(async () => stopped || (await t.stop()));
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: alice, password });

      const answered = new Map<string, number>();
      let next = 0;
      const sendOne = async () => {
        const n = ++next;
        const messageId = `<drill-${n}@test.example>`;
        await submission(t.port('submissions'), alice, password).sendMail({
          from: alice,
          to: alice,
          subject: `drill ${n}`,
          messageId,
          text: `drill message ${n}\n${'z'.repeat(n % 7 === 0 ? 300_000 : 100 + n)}`,
        });
        answered.set(messageId, Date.now()); // after the 250: the message is committed
      };
      for (let i = 0; i < 5; i++) await sendOne();
      await t.waitFor(async () => (await t.mailbox(alice)).length === 5, '5 messages delivered');

      // A client that cached the INBOX with QRESYNC, and a CalDAV client's sync token.
      const cached = qresyncClient(t.port('imaps'));
      await cached.connect();
      const before = await cached.mailboxOpen('INBOX');
      const cachedSources = await fetchAll(cached);
      await cached.logout();
      assert.equal(
        (await davRequest(t, 'PUT', `${calendarPath}drill.ics`, eventText, { 'content-type': 'text/calendar' })).status,
        201,
      );
      const listing = await (await davRequest(t, 'REPORT', calendarPath, syncReport(''))).text();
      const oldToken = /<[a-z]*:?sync-token>([^<]+)</i.exec(listing)![1]!;

      // SMTP load from three clients while the backup runs in its own process.
      let loading = true;
      const failures: unknown[] = [];
      const senders = [0, 1, 2].map(async () => {
        while (loading) await sendOne().catch((error) => failures.push(error));
      });
      const created = await runHoldfast(['backup', 'create', '--to', to, '--json'], { env: env(source) });
      loading = false;
      await Promise.all(senders);
      assert.deepEqual(failures, [], 'every message of the load was accepted');
      assert.equal(created.code, 0, created.stdout + created.stderr);
      const backup = JSON.parse(created.stdout) as { dir: string; createdAt: number; counts: Record<string, number> };
      const beforeSnapshot = [...answered].filter(([, at]) => at < backup.createdAt).map(([id]) => id);
      context.diagnostic(
        `${answered.size} messages sent, ${beforeSnapshot.length} answered before the snapshot, ${backup.counts.messages} in mailboxes and ${backup.counts.queue_messages} in the queue of the backup`,
      );
      assert.ok(answered.size > beforeSnapshot.length, 'mail kept arriving while the backup ran');

      // What the source holds once its queue is done, then the wipe.
      await t.waitFor(
        async () => (await t.mailbox(alice)).length === answered.size,
        'the source delivered all',
        30_000,
      );
      const original = new Map((await t.mailbox(alice)).map((m) => [messageIdOf(m.text), m.text]));
      await t.stop();
      stopped = true;
      await source.cleanup();

      const target = await createBackend(name);
      cleanups.push(() => target.cleanup());
      const { json } = cliOn(() => env(target));
      const verified = await json('backup', 'verify', backup.dir);
      assert.equal(verified.ok, true, verified.verdict);
      const restored = await json('backup', 'restore', backup.dir);
      assert.equal(restored.counts.messages, backup.counts.messages);
      const again = await runHoldfast(['backup', 'restore', backup.dir], { env: env(target) });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^holdfast: .* is not empty: it holds a Holdfast store .*\n$/);

      const t2 = await startTestNode(name, { backend: target, toml: settings });
      cleanups.push(() => t2.stop());
      const present = async () => new Map((await t2.mailbox(alice)).map((m) => [messageIdOf(m.text), m.text]));
      // Mail that was still queued in the snapshot is delivered by the restored node.
      await t2.waitFor(
        async () => {
          const now = await present();
          return beforeSnapshot.every((id) => now.has(id));
        },
        'every message answered before the snapshot',
        30_000,
      );
      for (const [id, text] of await present()) assert.equal(text, original.get(id), `${id} byte for byte`);

      const client = qresyncClient(t2.port('imaps'));
      await client.connect();
      const reopened = await client.mailboxOpen('INBOX', {
        uidValidity: before.uidValidity,
        changedSince: before.highestModseq,
      });
      assert.ok(reopened.uidValidity > before.uidValidity, 'a new, higher UIDVALIDITY');
      // The client drops what it cached and fetches the folder again.
      const resynced = await fetchAll(client);
      await client.logout();
      assert.deepEqual([...resynced.keys()].sort(), [...(await present()).keys()].sort());
      for (const [id, text] of cachedSources) assert.equal(resynced.get(id), text, `${id}: what the client cached`);
      for (const id of beforeSnapshot) assert.equal(resynced.get(id), original.get(id), `${id} over IMAP`);

      const stale = await davRequest(t2, 'REPORT', calendarPath, syncReport(oldToken));
      assert.equal(stale.status, 403);
      assert.match(await stale.text(), /valid-sync-token/);
      const full = await (await davRequest(t2, 'REPORT', calendarPath, syncReport(''))).text();
      assert.match(full, /drill\.ics/);
      const newToken = /<[a-z]*:?sync-token>([^<]+)</i.exec(full)![1]!;
      assert.equal((await davRequest(t2, 'REPORT', calendarPath, syncReport(newToken))).status, 207);
    });
  });
}
