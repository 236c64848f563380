// Mail sent through JMAP (EmailSubmission/set, as the web app sends) passes the spam and malware
// filter as SMTP submission does, against a real rspamd and clamd (scan-engines.ts): an EICAR
// attachment is refused with forbiddenToSend naming the signature, GTUBE spam counts against the
// sender until its sending is paused, its local copy goes to Junk, and with fail_closed a scanner that
// does not answer makes the submission fail for now (serverUnavailable); deliveryStatus names every
// recipient when the filter splits them between INBOX and Junk. Both backends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pausedSenders, resumeSending } from '../../src/filtering/outbound-spam.ts';
import { addListEntry } from '../../src/filtering/sender-lists.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { postApi } from '../jmap/jmap-client.ts';
import { type JmapTestNode, startJmapNode } from '../jmap/jmap-test-node.ts';
import { eicar, eicarSignature, freePort, gtubeAddHeader, startEngines } from './scan-engines.ts';

const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];
const engines = await startEngines();
after(() => engines.stop());

const users = ['alice@test.example', 'bob@test.example', 'carol@test.example'];

/** A draft from alice to bob (or to `to`), with an attachment when given. */
function draft(subject: string, text: string, attachment?: string, to = 'Bob <bob@test.example>') {
  const head = `From: Alice <alice@test.example>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test.example>\r\nMIME-Version: 1.0\r\n`;
  if (!attachment) return `${head}Content-Type: text/plain; charset=us-ascii\r\n\r\n${text}\r\n`;
  return [
    `${head}Content-Type: multipart/mixed; boundary="b1"`,
    '',
    '--b1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    text,
    '--b1',
    'Content-Type: application/octet-stream; name="eicar.com"',
    'Content-Disposition: attachment; filename="eicar.com"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(attachment).toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
}

/** Puts a draft in alice's Drafts over IMAP and sends it with EmailSubmission/set: the set's answer. */
async function send(node: JmapTestNode, subject: string, text: string, attachment?: string, to?: string) {
  await node.withImap((client) => client.append('Drafts', draft(subject, text, attachment, to), ['\\Draft']));
  const [[, found]] = await node.call([['Email/query', { accountId: node.accountId, filter: { subject } }, 'q']]);
  assert.equal(found.ids.length, 1);
  const [[, identities]] = await node.call([['Identity/get', { accountId: node.accountId }, 'i']], undefined, using);
  const { status, json } = await postApi(
    node.base,
    {
      using,
      methodCalls: [
        [
          'EmailSubmission/set',
          {
            accountId: node.accountId,
            create: { k: { identityId: identities.list[0].id, emailId: found.ids[0] } },
          },
          's',
        ],
      ],
    },
    node.auth(),
  );
  assert.equal(status, 200, JSON.stringify(json));
  return json.methodResponses[0][1];
}

for (const name of backendNames) {
  describe(`JMAP submission through the filter on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    let node: JmapTestNode;
    before(async () => {
      node = await startJmapNode(name, users, {
        toml: [
          '[filtering]',
          `rspamd_url = "${engines.rspamd!.url}"`,
          `clamd = "${engines.clamd!.address}"`,
          'outbound_spam_limit = 2',
          '',
        ].join('\n'),
      });
    });
    after(() => node?.t.stop());

    it('refuses a message with malware with forbiddenToSend naming the signature', async () => {
      const result = await send(node, 'Invoice attached', 'Please find the invoice attached.', eicar);
      assert.equal(result.created, null);
      assert.equal(result.notCreated.k.type, 'forbiddenToSend');
      assert.equal(result.notCreated.k.description, `Message rejected: it contains malware (${eicarSignature})`);
      // Nothing was queued: bob never gets it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await node.t.mailbox('bob@test.example')).length, 0);
      assert.equal((await node.t.mailbox('bob@test.example', 'Junk')).length, 0);
    });

    it('counts spam against the sender, files its local copy in Junk and pauses the sender at the limit', async () => {
      const t = node.t;
      const first = await send(node, 'Offer one', gtubeAddHeader);
      assert.equal(first.notCreated, null, JSON.stringify(first.notCreated));
      const junked = await t.waitFor(
        async () => (await t.mailbox('bob@test.example', 'Junk')).find((m) => m.text.includes('Offer one')),
        "the spam in bob's Junk",
      );
      assert.match(junked.text, /^X-Holdfast-Scan: rspamd score=[\d.]+ action="add header"/m);
      assert.match(junked.text, /with HTTP id jmap-/);
      // One strike: not paused yet.
      assert.deepEqual(await pausedSenders(t.node.holdfast.store.db), []);

      const second = await send(node, 'Offer two', gtubeAddHeader);
      assert.equal(second.notCreated, null, JSON.stringify(second.notCreated));
      const [paused] = await pausedSenders(t.node.holdfast.store.db);
      assert.equal(paused?.strikes, 2);
      assert.ok(paused?.pausedAt);
      const alert = await t.waitFor(
        async () => (await t.mailbox('admin@test.example')).find((m) => m.text.includes('Sending paused')),
        "the alert in the administrator's INBOX",
      );
      assert.match(alert.text, /alice@test\.example submitted 2 messages within an hour/);

      const refused = await send(node, 'A plain note', 'Lunch on Thursday?');
      assert.equal(refused.notCreated.k.type, 'forbiddenToSend');
      assert.match(refused.notCreated.k.description, /^Sending is paused for alice@test\.example since /);
      await resumeSending(t.node.holdfast.store.db, paused!.principalId);
      const after = await send(node, 'Another plain note', 'Lunch on Friday?');
      assert.equal(after.notCreated, null, JSON.stringify(after.notCreated));
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('Another plain note')),
        "the clean message in bob's INBOX",
      );
    });

    it("reports every recipient's delivery when the filter splits them between INBOX and Junk", async () => {
      const t = node.t;
      const { db } = t.node.holdfast.store;
      const bob = (await t.node.holdfast.directory.resolveAddress('bob@test.example'))!.principal;
      await addListEntry(
        db,
        { tenantId: bob.tenantId, principalId: bob.id, list: 'allow', sender: 'alice@test.example' },
        Date.now(),
      );
      const sent = await send(node, 'Offer three', gtubeAddHeader, undefined, 'bob@test.example, carol@test.example');
      assert.equal(sent.notCreated, null, JSON.stringify(sent.notCreated));
      // bob allows alice: his copy is in his INBOX; carol's is in her Junk.
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('Offer three')),
        "the allowed copy in bob's INBOX",
      );
      await t.waitFor(
        async () => (await t.mailbox('carol@test.example', 'Junk')).find((m) => m.text.includes('Offer three')),
        "the spam in carol's Junk",
      );
      const status = await t.waitFor(async () => {
        const [[, got]] = await node.call(
          [['EmailSubmission/get', { accountId: node.accountId, ids: [sent.created.k.id] }, 'g']],
          undefined,
          using,
        );
        const delivery = got.list[0].deliveryStatus;
        return Object.values(delivery).every((d) => (d as { delivered: string }).delivered === 'yes') && delivery;
      }, 'both recipients delivered in deliveryStatus');
      assert.deepEqual(Object.keys(status).sort(), ['bob@test.example', 'carol@test.example']);
      for (const paused of await pausedSenders(db)) await resumeSending(db, paused.principalId);
    });
  });

  describe(`JMAP submission when the scanner does not answer on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    before(async () => {
      // A port nothing listens on: rspamd "is not answering".
      const closed = await freePort();
      node = await startJmapNode(name, users, {
        toml: ['[filtering]', `rspamd_url = "http://127.0.0.1:${closed}"`, 'on_failure = "fail_closed"', ''].join('\n'),
      });
    });
    after(() => node?.t.stop());

    it('fails for now with fail_closed, and nothing is sent', async () => {
      const result = await send(node, 'Not scanned', 'Lunch on Thursday?');
      assert.equal(result.notCreated.k.type, 'serverUnavailable');
      assert.equal(
        result.notCreated.k.description,
        'Message not accepted for now: it could not be scanned (rspamd is not answering); try again later',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await node.t.mailbox('bob@test.example')).length, 0);
    });
  });
}
