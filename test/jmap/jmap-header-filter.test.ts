// Email/query's header condition (RFC 8621 4.4.1: `header: [name]` — the Email has such a field —
// or `[name, text]` — one such field's value contains the text), as a client sends it: field names
// and values without case, encoded words decoded and folded lines unfolded, the lines Holdfast added
// on receipt (Delivered-To) counted as Email/get shows them, under AND/OR/NOT, with inMailbox and
// keyword conditions (off the folder's arrival order), followed by Email/queryChanges, and malformed
// conditions refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

const message = (subject: string, extra: string) =>
  `From: carol@test.example\r\nTo: alice@test.example\r\nSubject: ${subject}\r\n${extra}\r\nHello.\r\n`;

// Appended over IMAP in this order (no lines added on receipt).
const appended: [string, string, string[]][] = [
  ['blue', 'X-Tag: Blue Sky\r\n', []],
  ['green', 'X-Tag: =?UTF-8?Q?gr=C3=BCn?=\r\nX-Long: one\r\n two\r\n', ['\\Flagged']],
  ['plain', 'X-Other: blue\r\n', []],
  ['two tags', 'X-Tag: red\r\nX-Tag: yellow\r\n', ['\\Seen']],
];

for (const name of backendNames) {
  describe(`JMAP Email/query header filter on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let inbox: string;
    let archive: string;
    /** The subjects of the Emails a filter finds, sorted. */
    const subjects = async (filter: object, extra: object = {}): Promise<string[]> =>
      (await node.subjectsOf({ filter, ...extra })).sort();
    const refusal = async (filter: object) => {
      const [[name, answer]] = await node.call([['Email/query', { accountId: node.accountId, filter }, 'q']]);
      return name === 'error' ? answer.type : name;
    };

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example']);
      ({ inbox, archive } = (await node.mailboxRoles()) as { inbox: string; archive: string });
      await node.withImap(async (client) => {
        for (const [subject, extra, flags] of appended) await client.append('INBOX', message(subject, extra), flags);
        await client.append('Archive', message('archived', 'X-Tag: blue moon\r\n'), []);
      });
      await node.deliver('bob@test.example', 'alice@test.example', { subject: 'delivered', text: 'By SMTP.' });
    });
    after(() => node.t.stop());

    it('finds Emails that have a field, by its name without case', async () => {
      assert.deepEqual(await subjects({ header: ['X-Tag'] }), ['archived', 'blue', 'green', 'two tags']);
      assert.deepEqual(await subjects({ header: ['x-tag'] }), ['archived', 'blue', 'green', 'two tags']);
      assert.deepEqual(await subjects({ header: ['X-Long'] }), ['green']);
      assert.deepEqual(await subjects({ header: ['X-Nowhere'] }), []);
      // An empty text is in every value: the same as the name alone.
      assert.deepEqual(await subjects({ header: ['X-Other', ''] }), ['plain']);
    });

    it('finds Emails with a field whose value contains the text, decoded, unfolded, without case', async () => {
      assert.deepEqual(await subjects({ header: ['X-Tag', 'BLUE'] }), ['archived', 'blue']);
      assert.deepEqual(await subjects({ header: ['X-Tag', 'sky'] }), ['blue']);
      assert.deepEqual(await subjects({ header: ['X-Tag', 'GRÜN'] }), ['green'], 'an encoded word, decoded');
      assert.deepEqual(await subjects({ header: ['X-Long', 'one two'] }), ['green'], 'a folded value, unfolded');
      // Any of several fields of the name; never across two fields or into another field's value.
      assert.deepEqual(await subjects({ header: ['X-Tag', 'yellow'] }), ['two tags']);
      assert.deepEqual(await subjects({ header: ['X-Tag', 'red\r\nX-Tag: yellow'] }), []);
      assert.deepEqual(await subjects({ header: ['X-Other', 'sky'] }), []);
      assert.deepEqual(await subjects({ header: ['Subject', 'TAGS'] }), ['two tags']);
    });

    it('counts the lines added on receipt, as Email/get shows them', async () => {
      assert.deepEqual(await subjects({ header: ['Delivered-To'] }), ['delivered']);
      assert.deepEqual(await subjects({ header: ['Delivered-To', 'ALICE@test.example'] }), ['delivered']);
      assert.deepEqual(await subjects({ header: ['Return-Path', 'bob@'] }), ['delivered']);
      assert.deepEqual(await subjects({ header: ['Delivered-To', 'bob@'] }), []);
      const [[, query], [, got]] = await node.call([
        ['Email/query', { accountId: node.accountId, filter: { header: ['Delivered-To'] } }, 'q'],
        [
          'Email/get',
          {
            accountId: node.accountId,
            '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
            properties: ['header:Delivered-To:asText'],
          },
          'g',
        ],
      ]);
      assert.equal(query.ids.length, 1);
      assert.equal(got.list[0]['header:Delivered-To:asText'], 'alice@test.example');
    });

    it('combines with AND, OR, NOT, inMailbox and keywords', async () => {
      assert.deepEqual(await subjects({ operator: 'NOT', conditions: [{ header: ['X-Tag'] }] }), [
        'delivered',
        'plain',
      ]);
      assert.deepEqual(
        await subjects({ operator: 'OR', conditions: [{ header: ['X-Long'] }, { header: ['X-Other', 'blue'] }] }),
        ['green', 'plain'],
      );
      assert.deepEqual(await subjects({ inMailbox: inbox, header: ['X-Tag', 'blue'] }), ['blue']);
      assert.deepEqual(await subjects({ inMailbox: archive, header: ['X-Tag', 'blue'] }), ['archived']);
      assert.deepEqual(
        await subjects({
          operator: 'AND',
          conditions: [{ inMailbox: inbox }, { notKeyword: '$seen' }, { header: ['X-Tag'] }],
        }),
        ['blue', 'green'],
      );
      assert.deepEqual(await subjects({ hasKeyword: '$flagged', header: ['X-Tag'] }), ['green']);
      assert.deepEqual(
        await subjects({
          operator: 'AND',
          conditions: [
            { inMailbox: inbox },
            { operator: 'NOT', conditions: [{ header: ['X-Tag', 'blue'] }, { header: ['Delivered-To'] }] },
          ],
        }),
        ['green', 'plain', 'two tags'],
      );
      // Sorted and collapsed like any other query.
      assert.deepEqual(
        await subjects({ header: ['X-Tag'] }, { sort: [{ property: 'subject' }], collapseThreads: true }),
        ['archived', 'blue', 'green', 'two tags'],
      );
    });

    it('is followed by Email/queryChanges within a Mailbox', async () => {
      const query = { accountId: node.accountId, filter: { inMailbox: inbox, header: ['X-Tag', 'blue'] } };
      const [[, start]] = await node.call([['Email/query', query, 'q']]);
      assert.equal(start.canCalculateChanges, true);
      await node.withImap((client) => client.append('INBOX', message('later', 'X-Tag: light blue\r\n'), []));
      const [[, changes], [, now]] = await node.call([
        ['Email/queryChanges', { ...query, sinceQueryState: start.queryState }, 'c'],
        ['Email/query', query, 'q'],
      ]);
      assert.deepEqual(changes.added, [{ id: now.ids[0], index: 0 }]);
      assert.equal(now.ids.length, 2);
    });

    it('refuses a malformed header condition', async () => {
      for (const header of [[], ['X-Tag', 'a', 'b'], 'X-Tag', [1], ['X Tag'], ['X-Tag:'], ['X-Tag', 2]])
        assert.equal(await refusal({ header }), 'invalidArguments', JSON.stringify(header));
      assert.equal(await refusal({ operator: 'OR', conditions: [{ header: [] }] }), 'invalidArguments');
    });
  });
}
