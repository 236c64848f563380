// Email/query with collapseThreads on one Mailbox by receivedAt (the web app's folder list) is read
// from the folder's arrival order (collapsed-threads.ts); on both backends it answers what collapsing
// the sorted results does — the same query with a condition the arrival order cannot answer takes
// that path — descending and ascending, with a keyword condition, by pages, and after a thread gets a
// new message or loses one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

for (const backend of backendNames) {
  describe(`collapseThreads from the arrival order on ${backend}`, { skip: skipFor(backend) }, () => {
    let j: JmapTestNode;
    let inbox: string;

    /** The ids of a query by the arrival order, and of the same query by sorting (minSize 0 matches all). */
    const both = async (args: Record<string, unknown>, extra: Record<string, unknown>[] = []) => {
      const conditions = [{ inMailbox: inbox }, ...extra];
      const [[, fast], [, sorted]] = await j.call([
        [
          'Email/query',
          {
            accountId: j.accountId,
            filter: { operator: 'AND', conditions },
            collapseThreads: true,
            ...args,
            calculateTotal: true,
          },
          'f',
        ],
        [
          'Email/query',
          {
            accountId: j.accountId,
            filter: { operator: 'AND', conditions: [...conditions, { minSize: 0 }] },
            collapseThreads: true,
            ...args,
            calculateTotal: true,
          },
          's',
        ],
      ]);
      assert.deepEqual(fast.ids, sorted.ids, JSON.stringify(args));
      assert.equal(fast.total, sorted.total);
      return fast as { ids: string[]; total: number };
    };

    before(async () => {
      j = await startJmapNode(backend, ['alice@test.example']);
      inbox = (await j.mailboxRoles()).inbox!;
      await j.withImap(async (client) => {
        for (let i = 0; i < 24; i++) {
          const date = new Date(Date.UTC(2024, 0, 1, 0, i % 12)); // equal receivedAt in pairs: ties by UID
          const thread = i % 4 === 0 ? '' : `In-Reply-To: <t${i - (i % 4)}@x>\r\nReferences: <t${i - (i % 4)}@x>\r\n`;
          await client.append(
            'INBOX',
            `From: bob@test.example\r\nSubject: ${i % 4 ? 'Re: ' : ''}topic ${i - (i % 4)}\r\nMessage-ID: <t${i}@x>\r\n${thread}\r\nbody ${i}\r\n`,
            i % 3 === 0 ? ['\\Seen'] : [],
            date,
          );
        }
      });
    });
    after(() => j?.t.stop());

    it('answers what collapsing the sorted results does, in both directions, by pages and with keywords', async () => {
      const all = await both({});
      assert.ok(all.total > 1 && all.total < 24, 'threads of several Emails');
      await both({ sort: [{ property: 'receivedAt', isAscending: true }] });
      await both({}, [{ hasKeyword: '$seen' }]);
      await both({ sort: [{ property: 'receivedAt', isAscending: true }] }, [{ notKeyword: '$seen' }]);
      const firstPage = await both({ position: 0, limit: 3 });
      const secondPage = await both({ position: 3, limit: 3 });
      assert.deepEqual([...firstPage.ids, ...secondPage.ids], all.ids.slice(0, 6));
    });

    it('follows a thread that gets a new message and one that loses its newest', async () => {
      const before = await both({});
      await j.withImap(async (client) => {
        await client.append(
          'INBOX',
          'From: bob@test.example\r\nSubject: Re: topic 8\r\nMessage-ID: <late@x>\r\nIn-Reply-To: <t8@x>\r\nReferences: <t8@x>\r\n\r\nlate\r\n',
          [],
          new Date(Date.UTC(2025, 0, 1)),
        );
      });
      const after = await both({});
      assert.equal(after.total, before.total, 'no new thread');
      assert.notEqual(after.ids[0], before.ids[0], 'the thread with the new message comes first, by it');
      await j.call([['Email/set', { accountId: j.accountId, destroy: [after.ids[0]] }, 'd']]);
      assert.deepEqual((await both({})).ids.length, before.total);
    });
  });
}
