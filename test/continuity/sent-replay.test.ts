// [continuity.upstream.sent]: what continuity users saved in their Holdfast Sent folder during an
// event is appended to their Sent folder at the upstream (a Dovecot on loopback) when it recovers,
// signed in as each user by a master user, each message once — also when the round runs again
// after a crash — and the event closes only after that. Per-user credentials work too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { continuityStatus } from '../../src/continuity/continuity-status.ts';
import { ContinuityEvents } from '../../src/continuity/continuity-events.ts';
import { SentReplay } from '../../src/continuity/sent-replay.ts';
import { copyStart } from '../../src/flow/queue/domain-backlog.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { startContinuityNode } from './continuity-node.ts';
import { dovecotInstalled, startUpstreamImap, type UpstreamImap } from './upstream-imap.ts';

const password = 'Sent-Replay-Works-64';
const alice = 'alice@contoso.example';
const bob = 'bob@contoso.example';
const sentItems = 'Sent Items';

for (const backend of backendNames) {
  describe(`continuity: sent items appended upstream (${backend})`, {
    skip: skipFor(backend) || (!dovecotInstalled && 'dovecot-imapd is not installed'),
  }, () => {
    let t: TestNode;
    let upstream: FakeMx;
    let imap: UpstreamImap;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'holdfast-sent-replay-'));
      upstream = await new FakeMx().start();
      imap = await startUpstreamImap();
      t = await startContinuityNode(backend, {
        upstreamPort: upstream.port,
        settings: ['activate_after = "1h"', 'probe_interval = "300ms"'],
        toml: [
          '[continuity.upstream.sent]',
          `url = "imaps://${imap.masterUser}:${imap.masterPassword}@127.0.0.1:${imap.imapsPort}"`,
          'tls_verify = false',
        ],
        users: [alice, bob],
        password,
      });
    });

    after(async () => {
      await t?.stop();
      await upstream?.stop();
      imap?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** What a mail client does after sending: saves its copy in the user's Sent folder here. */
    async function saveSent(address: string, messageId: string) {
      const client = imapflowClient(t.port('imaps'), address, password);
      await client.connect();
      try {
        await client.append(
          'Sent',
          [
            `From: ${address}`,
            'To: partner@partner.example',
            `Subject: sent ${messageId}`,
            `Message-ID: ${messageId}`,
            'Date: Sat, 05 Dec 2026 10:00:00 +0000',
            '',
            'written during the outage',
            '',
          ].join('\r\n'),
          ['\\Seen'],
        );
      } finally {
        await client.logout();
      }
    }

    const status = async () => {
      const { store, config, now } = t.node.holdfast;
      return (await continuityStatus(store.db, store.dialect, config.continuity, now()))[0]!;
    };

    it('appends what users sent during the event to their upstream Sent folder once, then closes', async () => {
      const { store, config, now } = t.node.holdfast;
      await saveSent(alice, '<before@contoso.example>');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const events = new ContinuityEvents(store.db);
      const upstreamConfig = config.continuity.upstreams[0]!;
      const { event } = await events.start({
        upstream: 'exchange',
        startedBy: 'admin',
        reason: 'test',
        at: now(),
        copyCursor: await copyStart(store.db, upstreamConfig.domains),
      });
      await saveSent(alice, '<during-1@contoso.example>');
      await saveSent(alice, '<during-2@contoso.example>');
      await saveSent(bob, '<during-3@contoso.example>');
      assert.deepEqual(imap.messageIds('alice', sentItems), [], 'nothing upstream while the event is active');

      await events.stopByHand('exchange', now(), 'test over');
      const closed = await t.waitFor(async () => {
        const s = await status();
        return s.state === 'normal' && s.lastEvent?.state === 'closed' && s;
      }, 'the event to close');
      assert.equal(closed.lastEvent!.id, event.id);
      assert.deepEqual(imap.messageIds('alice', sentItems), [
        '<during-1@contoso.example>',
        '<during-2@contoso.example>',
      ]);
      assert.deepEqual(imap.messageIds('bob', sentItems), ['<during-3@contoso.example>']);

      // A round cut short after its appends (a crash before the close was recorded) runs again: nothing twice.
      const again = await new SentReplay({ db: store.db, blobs: store.blobs, logger: silentLogger(), now }).run(
        { ...closed.lastEvent!, state: 'recovering' },
        upstreamConfig,
        false,
      );
      assert.deepEqual(
        { appended: again.appended, present: again.present, waiting: again.waiting },
        {
          appended: 0,
          present: 3,
          waiting: 0,
        },
      );
      assert.equal(imap.messageIds('alice', sentItems).length, 2);
    });

    it('signs in with per-user credentials from a file, and leaves out a user whose login is refused', async () => {
      const { store, config, now } = t.node.holdfast;
      const credentials = join(dir, 'sent-credentials.csv');
      writeFileSync(credentials, `address,password\n${alice},${imap.password}\n${bob},not-${imap.password}\n`, {
        mode: 0o600,
      });
      const upstreamConfig = {
        ...config.continuity.upstreams[0]!,
        sent: {
          url: new URL(`imaps://127.0.0.1:${imap.imapsPort}`),
          credentialsFile: credentials,
          folder: 'Continuity',
          tlsVerify: false,
        },
      };
      const event = (await new ContinuityEvents(store.db).latest('exchange'))!;
      const result = await new SentReplay({ db: store.db, blobs: store.blobs, logger: silentLogger(), now }).run(
        event,
        upstreamConfig,
        false,
      );
      assert.equal(result.appended, 2);
      assert.deepEqual(
        result.skipped.map((s) => s.address),
        [bob],
      );
      assert.match(result.skipped[0]!.reason, /login refused/);
      assert.equal(result.waiting, 0);
      assert.deepEqual(imap.messageIds('alice', 'Continuity'), [
        '<during-1@contoso.example>',
        '<during-2@contoso.example>',
      ]);
    });
  });
}
