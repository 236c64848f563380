// Blob/copy (RFC 8620 6.3) between the accounts a user may work in: Alice copies an upload into the
// shared mailbox team@ (and imports it there as an Email), and a stored message and one of its parts
// from team@ into her own account; each copy downloads as the original did and is usable there
// (Email/parse). Blobs the source account does not hold are notCopied with notFound; accounts nobody
// shared answer fromAccountNotFound / accountNotFound, as the RFC names them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

const core = ['urn:ietf:params:jmap:core'];
const team = 'team@test.example';
const raw = [
  'From: dora@test.example',
  'To: team@test.example',
  'Subject: Minutes',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain',
  '',
  'See the minutes attached.',
  '--b',
  'Content-Type: text/plain; name="minutes.txt"',
  'Content-Disposition: attachment; filename="minutes.txt"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('Decided: everything.\n').toString('base64'),
  '--b--',
  '',
].join('\r\n');

for (const name of backendNames) {
  describe(`JMAP Blob/copy on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let own: string;
    let teamAccount: string;
    let carolAccount: string;
    const download = async (accountId: string, blobId: string) => {
      const response = await fetch(`${node.base}/jmap/download/${accountId}/${blobId}/blob`, {
        headers: { Authorization: node.auth() },
      });
      return { status: response.status, body: Buffer.from(await response.arrayBuffer()).toString('latin1') };
    };
    const copy = async (args: object) => {
      const [[method, answer]] = await node.call([['Blob/copy', args, 'c']], node.auth(), core);
      return method === 'error' ? { error: answer.type } : answer;
    };

    before(async () => {
      node = await startJmapNode(name, [
        'alice@test.example',
        'bob@test.example',
        'carol@test.example',
        { kind: 'shared', address: team },
      ]);
      const tenant = await node.t.node.holdfast.directory.tenant('default');
      await tenant.grant(team, 'alice@test.example', { fullAccess: true, sendAs: false });
      own = node.accountId;
      teamAccount = await node.accountNamed(team);
      carolAccount = await node.accountIdOf('carol@test.example');
    });
    after(() => node.t.stop());

    it('copies an upload into a shared account, where it can be imported', async () => {
      const uploaded = await node.upload(raw, 'message/rfc822');
      assert.equal(uploaded.status, 201);
      const answer = await copy({ fromAccountId: own, accountId: teamAccount, blobIds: [uploaded.json.blobId] });
      assert.equal(answer.fromAccountId, own);
      assert.equal(answer.accountId, teamAccount);
      assert.equal(answer.notCopied, null);
      const copied = answer.copied[uploaded.json.blobId];
      assert.match(copied, /^U\d+$/);
      assert.notEqual(copied, uploaded.json.blobId);
      assert.deepEqual(await download(teamAccount, copied), { status: 200, body: raw });
      // The copy is the shared account's: not a blob of Alice's own account.
      assert.equal((await download(own, copied)).status, 404);

      const [[, boxes]] = await node.call([['Mailbox/get', { accountId: teamAccount, properties: ['role'] }, 'm']]);
      const inbox = boxes.list.find((m: { role: string }) => m.role === 'inbox').id;
      const [[, imported]] = await node.call([
        [
          'Email/import',
          { accountId: teamAccount, emails: { k: { blobId: copied, mailboxIds: { [inbox]: true } } } },
          'i',
        ],
      ]);
      assert.ok(imported.created?.k, JSON.stringify(imported));
      const [[, got]] = await node.call([
        ['Email/get', { accountId: teamAccount, ids: [imported.created.k.id], properties: ['subject'] }, 'g'],
      ]);
      assert.equal(got.list[0].subject, 'Minutes');
    });

    it('copies a stored message and a body part from a shared account into the user’s own', async () => {
      const [[, found]] = await node.call([
        ['Email/query', { accountId: teamAccount, filter: { subject: 'Minutes' } }, 'q'],
      ]);
      const [[, got]] = await node.call([
        ['Email/get', { accountId: teamAccount, ids: found.ids, properties: ['blobId', 'attachments'] }, 'g'],
      ]);
      const { blobId, attachments } = got.list[0];
      const part = attachments[0].blobId;
      const answer = await copy({ fromAccountId: teamAccount, accountId: own, blobIds: [blobId, part, blobId] });
      assert.equal(answer.notCopied, null);
      assert.deepEqual(Object.keys(answer.copied).sort(), [blobId, part].sort());
      for (const original of [blobId, part])
        assert.deepEqual(await download(own, answer.copied[original]), await download(teamAccount, original));
      assert.equal((await download(own, answer.copied[part])).body, 'Decided: everything.\n');
      const [[, parsed]] = await node.call([
        ['Email/parse', { accountId: own, blobIds: [answer.copied[blobId]], properties: ['subject', 'from'] }, 'p'],
      ]);
      assert.equal(parsed.parsed[answer.copied[blobId]].subject, 'Minutes');
    });

    it('answers notFound per blob the source account does not hold', async () => {
      const uploaded = await node.upload('mine', 'text/plain');
      const [[, query]] = await node.call([['Email/query', { accountId: teamAccount }, 'q']]);
      const [[, got]] = await node.call([
        ['Email/get', { accountId: teamAccount, ids: query.ids.slice(0, 1), properties: ['blobId'] }, 'g'],
      ]);
      const teamBlob = got.list[0].blobId;
      const answer = await copy({
        fromAccountId: teamAccount,
        accountId: own,
        // Alice's own upload is not a blob of team@; neither are ids that name nothing.
        blobIds: [uploaded.json.blobId, 'B999999', 'U999999', 'P999999-1', 'nonsense', teamBlob],
      });
      assert.deepEqual(Object.keys(answer.copied), [teamBlob]);
      assert.deepEqual(
        Object.keys(answer.notCopied).sort(),
        ['B999999', 'P999999-1', 'U999999', uploaded.json.blobId, 'nonsense'].sort(),
      );
      for (const error of Object.values(answer.notCopied) as { type: string }[]) assert.equal(error.type, 'notFound');
    });

    it('answers fromAccountNotFound, accountNotFound and invalidArguments as the RFC names them', async () => {
      const uploaded = await node.upload('mine', 'text/plain');
      const blobIds = [uploaded.json.blobId];
      // Carol shared nothing with Alice; Bob has no grant on Alice's account.
      assert.deepEqual(await copy({ fromAccountId: carolAccount, accountId: own, blobIds }), {
        error: 'fromAccountNotFound',
      });
      assert.deepEqual(await copy({ fromAccountId: own, accountId: carolAccount, blobIds }), {
        error: 'accountNotFound',
      });
      const [[, asBob]] = await node.call(
        [['Blob/copy', { fromAccountId: own, accountId: await node.accountIdOf('bob@test.example'), blobIds }, 'c']],
        node.auth('bob@test.example'),
        core,
      );
      assert.equal(asBob.type, 'fromAccountNotFound');
      assert.deepEqual(await copy({ fromAccountId: own, accountId: own, blobIds }), { error: 'invalidArguments' });
      assert.deepEqual(await copy({ fromAccountId: own, accountId: teamAccount }), { error: 'invalidArguments' });
      assert.deepEqual(await copy({ accountId: teamAccount, blobIds }), { error: 'invalidArguments' });
    });
  });
}
