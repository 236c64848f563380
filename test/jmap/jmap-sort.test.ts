// Email/query's sorts (RFC 8621 4.4.2) as a client sees them: messages APPENDed over IMAP with
// different senders, recipients, subjects, Date headers and flags come back in the order each sort
// property says, the session lists them, and a keyword sort without its keyword is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

const message = (from: string, to: string, subject: string, date: string) =>
  `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: ${date}\r\n\r\nHello\r\n`;

// [from, to, subject, Date header, flags], appended in this order (arrival order).
const mail: [string, string, string, string, string[]][] = [
  ['Zoe <zoe@test.example>', 'carl@test.example', 'Re: budget', 'Tue, 01 Dec 2026 10:00:00 +0000', []],
  ['adam@test.example', 'Bea <bea@test.example>', 'Fwd: agenda', 'Thu, 03 Dec 2026 10:00:00 +0000', ['\\Flagged']],
  ['=?UTF-8?Q?=C3=89mile?= <emile@test.example>', 'alice@test.example', 'cost', 'Mon, 30 Nov 2026 10:00:00 +0000', []],
  ['Mia <mia@test.example>', 'Al <al@test.example>', '[list] Brunch', 'Wed, 02 Dec 2026 10:00:00 +0000', ['\\Flagged']],
];

for (const name of backendNames) {
  describe(`JMAP Email/query sorts on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    const subjectsBy = (sort: object[]) => node.subjectsOf({ sort });

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example']);
      const client = await node.imap();
      try {
        for (const [from, to, subject, date, flags] of mail)
          await client.append('INBOX', message(from, to, subject, date), flags);
      } finally {
        await client.logout();
      }
    });
    after(() => node.t.stop());

    it('lists every sort property of RFC 8621 in the session', async () => {
      const session = await node.session();
      const options =
        session.accounts[node.accountId].accountCapabilities['urn:ietf:params:jmap:mail'].emailQuerySortOptions;
      for (const property of ['receivedAt', 'size', 'from', 'to', 'subject', 'sentAt', 'hasKeyword'])
        assert.ok(options.includes(property), property);
    });

    it('sorts by sender name or address, recipient, base subject and sent date', async () => {
      // from: the name, else the address, without case: adam, Émile, Mia, Zoe.
      assert.deepEqual(await subjectsBy([{ property: 'from' }]), [
        'Fwd: agenda',
        'cost',
        '[list] Brunch',
        'Re: budget',
      ]);
      // to: Al, alice@, Bea, carl@ — descending reverses it.
      assert.deepEqual(await subjectsBy([{ property: 'to', isAscending: false }]), [
        'Re: budget',
        'Fwd: agenda',
        'cost',
        '[list] Brunch',
      ]);
      // subject: the base subject (agenda, brunch, budget, cost).
      assert.deepEqual(await subjectsBy([{ property: 'subject' }]), [
        'Fwd: agenda',
        '[list] Brunch',
        'Re: budget',
        'cost',
      ]);
      // sentAt: the Date header, not arrival.
      assert.deepEqual(await subjectsBy([{ property: 'sentAt' }]), [
        'cost',
        'Re: budget',
        '[list] Brunch',
        'Fwd: agenda',
      ]);
    });

    it('sorts by a keyword, then by the next comparator', async () => {
      // Flagged first (descending: true before false), each group newest first by receivedAt.
      assert.deepEqual(
        await subjectsBy([
          { property: 'hasKeyword', keyword: '$flagged', isAscending: false },
          { property: 'receivedAt', isAscending: false },
        ]),
        ['[list] Brunch', 'Fwd: agenda', 'cost', 'Re: budget'],
      );
      const [[, refused]] = await node.call([
        ['Email/query', { accountId: node.accountId, sort: [{ property: 'hasKeyword' }] }, 'q'],
      ]);
      assert.equal(refused.type, 'invalidArguments');
      const [[, unknown]] = await node.call([
        ['Email/query', { accountId: node.accountId, sort: [{ property: 'colour' }] }, 'q'],
      ]);
      assert.equal(unknown.type, 'unsupportedSort');
    });
  });
}
