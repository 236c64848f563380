// A message whose content cannot be read from the store while it is being sent (its content file
// gone, the database failing over) is deferred with a reply that says so, and the destination is
// not judged for it: its next mail server is not tried and its health signal is neutral, not
// "unreachable". The remote server is a real SMTP server on loopback; the store a real SQLite file.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClaimedRecipient } from '../../../src/flow/queue/claimed-recipient.ts';
import { deliverRemotely } from '../../../src/flow/delivery/remote-delivery.ts';
import { SmtpClient } from '../../../src/flow/delivery/smtp-client.ts';
import { FakeMx } from '../../helpers/fake-mx.ts';
import { createTestStore, type TestStore } from '../../helpers/store.ts';

const claimed = (blobHash: string, size: number): ClaimedRecipient => ({
  id: 1,
  messageId: 1,
  recipient: 'bob@remote.example',
  originalRecipient: 'bob@remote.example',
  orcpt: null,
  notify: null,
  route: 'remote',
  domain: 'remote.example',
  tenantId: null,
  attempts: 0,
  delayNotified: false,
  lastReply: null,
  leaseOwner: null,
  message: {
    id: 1,
    blobHash,
    prefix: 'Received: from test\r\n',
    size,
    sender: 'alice@local.example',
    envid: null,
    ret: null,
    receivedAt: Date.now(),
    source: 'submission',
    verifiedFrom: null,
  },
});

describe('remote delivery of a message the store cannot read', () => {
  let t: TestStore;
  const mxs = [new FakeMx(), new FakeMx()];
  const smtp = new SmtpClient();

  before(async () => {
    t = await createTestStore('sqlite');
    for (const mx of mxs) await mx.start();
  });
  after(async () => {
    smtp.close();
    for (const mx of mxs) await mx.stop();
    await t.close();
  });

  const deps = () => ({
    blobs: t.store.blobs,
    // Two mail servers for the domain: a connection failure would move on to the second.
    dns: {
      resolveMx: async () => [
        { exchange: 'mx1.remote.example', priority: 10 },
        { exchange: 'mx2.remote.example', priority: 20 },
      ],
      resolveAddresses: async () => ['127.0.0.1'],
      resolve: async () => [],
    },
    relays: [],
    hostname: 'mail.local.example',
    remotePort: mxs[0]!.port,
    smtp,
  });

  it('defers with 4.3.0 naming the store, sends nothing, and leaves the destination neutral', async () => {
    const outcome = await deliverRemotely(deps(), [claimed('0'.repeat(64), 2000)]);
    assert.equal(outcome.delivered.length, 0);
    assert.equal(outcome.failed.length, 0);
    assert.equal(outcome.deferred.length, 1);
    assert.match(outcome.deferred[0]!.reply, /^451 4\.3\.0 the message could not be read from the store/);
    assert.equal(outcome.signal, 'neutral');
    assert.equal(mxs[0]!.received.length, 0, 'nothing half-sent was accepted');
    assert.equal(mxs[0]!.connections, 1, 'one connection, not one per mail server');
  });

  it('a readable message goes through on the same path', async () => {
    const blob = await t.store.blobs.put(Buffer.from('From: alice@local.example\r\nSubject: hi\r\n\r\nhello\r\n'));
    const outcome = await deliverRemotely(deps(), [claimed(blob.hash, blob.size)]);
    assert.equal(outcome.delivered.length, 1, JSON.stringify(outcome.deferred));
    assert.equal(outcome.signal, 'success');
    assert.match(mxs[0]!.received.at(-1)!.data, /Subject: hi/);
  });
});
