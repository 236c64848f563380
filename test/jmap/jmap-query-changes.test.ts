// Email/queryChanges (RFC 8620 5.6, RFC 8621 4.5) through jmap-jam, with mail delivered by SMTP
// (nodemailer) and changed over IMAP (imapflow) and JMAP: after each change, the client's cached
// results with the answer's removed ids spliced out and added ids spliced in must be exactly what a
// fresh Email/query answers. Also Email/query's own order read from the folder's arrival order (an
// APPEND with an older date included), paging, anchors, and the queries answered cannotCalculateChanges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { BasicJam, basicAuth, postApi } from './jmap-client.ts';

const password = 'Wonderland-42';
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

type Query = Record<string, unknown>;
interface Added {
  id: string;
  index: number;
}

/** What a client does with a queryChanges answer (RFC 8620 5.6): splice out, then in by index. */
function spliced(cached: string[], removed: string[], added: Added[]): string[] {
  const gone = new Set(removed);
  const out = cached.filter((id) => !gone.has(id));
  for (const { id, index } of added) out.splice(index, 0, id);
  return out;
}

for (const name of backendNames) {
  describe(`JMAP Email/queryChanges on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    let inbox: string;
    let archive: string;
    const auth = basicAuth('alice@test.example', password);
    let sent = 0;
    let conversations = 0;
    let replies = 0;
    const imap = async () => {
      const client = imapflowClient(t.port('imaps'), 'alice@test.example', password);
      await client.connect();
      return client;
    };
    const withImap = async (use: (client: Awaited<ReturnType<typeof imap>>) => Promise<unknown>) => {
      const client = await imap();
      try {
        await use(client);
      } finally {
        await client.logout();
      }
    };
    const send = async (count: number) => {
      const before = (await t.mailbox('alice@test.example')).length;
      const transport = submission(t.port('submissions'), 'bob@test.example', password);
      for (let i = 0; i < count; i++) {
        sent++;
        await transport.sendMail({
          from: 'bob@test.example',
          to: 'alice@test.example',
          subject: `Report ${sent}`,
          text: `Report number ${sent}.\n${'padding '.repeat(sent)}`,
        });
      }
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).length >= before + count,
        `${count} delivered`,
      );
    };
    /**
     * A conversation by SMTP: `count` messages that each reference the one before (a new
     * conversation, unless `prefix` says these are more replies to the last one).
     */
    const converse = async (count: number, prefix = '') => {
      if (!prefix) conversations++;
      const before = (await t.mailbox('alice@test.example')).length;
      const transport = submission(t.port('submissions'), 'bob@test.example', password);
      const root = `<plan-${conversations}@test.example>`;
      for (let i = 0; i < count; i++) {
        const n = prefix ? 100 + ++replies : i;
        await transport.sendMail({
          from: 'bob@test.example',
          to: 'alice@test.example',
          subject: `${n || prefix ? 'Re: ' : ''}Plan ${conversations}`,
          text: `Plan message ${n}.`,
          messageId: n ? `<plan-${conversations}-${n}@test.example>` : root,
          ...(n ? { inReplyTo: root, references: [root] } : {}),
        });
      }
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).length >= before + count,
        `${count} of the conversation delivered`,
      );
    };
    /** One method call; its answer's name and arguments. */
    // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the answer it checks
    const call = async (method: string, args: Query): Promise<{ name: string } & Record<string, any>> => {
      const answer = await postApi(base, { using, methodCalls: [[method, { accountId, ...args }, 'c']] }, auth);
      assert.equal(answer.status, 200);
      const [name, result] = answer.json.methodResponses[0];
      return { name, ...result };
    };
    /** All the ids of a query now, with its state. */
    const fresh = async (query: Query) => {
      const [answer] = await jam.api.Email.query({ accountId, ...query, calculateTotal: true } as never);
      assert.equal(answer.ids.length, answer.total, 'the whole result fits one answer');
      return { ids: answer.ids, state: answer.queryState, canCalculateChanges: answer.canCalculateChanges };
    };
    const queryChanges = (query: Query, sinceQueryState: string, extra: Query = {}) =>
      call('Email/queryChanges', { ...query, sinceQueryState, calculateTotal: true, ...extra });
    /** Checks that the changes since `before` bring its ids to what the query answers now; the new start. */
    const follows = async (query: Query, before: { ids: string[]; state: string }, what: string) => {
      const changes = await queryChanges(query, before.state);
      assert.equal(changes.name, 'Email/queryChanges', `${what}: ${JSON.stringify(changes)}`);
      const now = await fresh(query);
      assert.deepEqual(spliced(before.ids, changes.removed, changes.added), now.ids, what);
      assert.equal(changes.total, now.ids.length, `${what}: total`);
      const indexes = (changes.added as Added[]).map((a) => a.index);
      assert.deepEqual(
        indexes,
        [...indexes].sort((a, b) => a - b),
        `${what}: added in order of index`,
      );
      return { changes, now };
    };
    const queries = (): [string, Query][] => [
      ['inbox, newest first', { filter: { inMailbox: inbox }, sort: [{ property: 'receivedAt', isAscending: false }] }],
      ['inbox, default sort', { filter: { inMailbox: inbox } }],
      ['inbox, oldest first', { filter: { inMailbox: inbox }, sort: [{ property: 'receivedAt', isAscending: true }] }],
      ['inbox unread', { filter: { inMailbox: inbox, notKeyword: '$seen' } }],
      [
        'inbox flagged (AND)',
        { filter: { operator: 'AND', conditions: [{ inMailbox: inbox }, { hasKeyword: '$flagged' }] } },
      ],
      ['inbox by size', { filter: { inMailbox: inbox }, sort: [{ property: 'size', isAscending: false }] }],
      ['inbox, subject', { filter: { inMailbox: inbox, subject: 'Report 1' } }],
      ['archive', { filter: { inMailbox: archive } }],
      // Beyond one Mailbox, other sorts, and queries that look at threads.
      ['every Mailbox', {}],
      ['inbox or archive', { filter: { operator: 'OR', conditions: [{ inMailbox: inbox }, { inMailbox: archive }] } }],
      ['not in the archive, unread', { filter: { inMailboxOtherThan: [archive], notKeyword: '$seen' } }],
      ['every Mailbox by subject', { sort: [{ property: 'subject' }, { property: 'sentAt', isAscending: false }] }],
      [
        'inbox flagged first',
        { filter: { inMailbox: inbox }, sort: [{ property: 'hasKeyword', keyword: '$flagged' }] },
      ],
      ['threads of every Mailbox', { collapseThreads: true }],
      ['threads of the inbox', { filter: { inMailbox: inbox }, collapseThreads: true }],
      ['inbox, some of the thread flagged', { filter: { inMailbox: inbox, someInThreadHaveKeyword: '$flagged' } }],
      ['none of the thread seen', { filter: { noneInThreadHaveKeyword: '$seen' } }],
      [
        'threads flagged first',
        {
          sort: [
            { property: 'someInThreadHaveKeyword', keyword: '$flagged', isAscending: false },
            { property: 'receivedAt', isAscending: false },
          ],
          collapseThreads: true,
        },
      ],
    ];

    before(async () => {
      t = await startTestNode(name);
      base = `http://127.0.0.1:${t.port('http')}`;
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      jam = new BasicJam(`${base}/.well-known/jmap`, 'alice@test.example', password);
      accountId = await jam.getPrimaryAccount();
      const [boxes] = await jam.api.Mailbox.get({ accountId });
      inbox = boxes.list.find((m) => m.role === 'inbox')!.id;
      archive = boxes.list.find((m) => m.role === 'archive')!.id;
      await send(6);
    });
    after(() => t.stop());

    it('orders Email/query by receivedAt, an older APPEND included, with paging and anchors', async () => {
      await withImap(async (client) => {
        const raw = (n: number) =>
          `From: old@test.example\r\nTo: alice@test.example\r\nSubject: Imported ${n}\r\n\r\nImported.\r\n`;
        await client.append('INBOX', raw(1), ['\\Seen'], new Date('2020-03-01T10:00:00Z'));
        await client.append('INBOX', raw(2), [], new Date('2020-03-01T10:00:00Z')); // the same date: by UID
        await client.append('INBOX', raw(3), [], new Date('2019-01-01T10:00:00Z'));
      });
      const { ids } = await fresh({ filter: { inMailbox: inbox } });
      const [got] = await jam.api.Email.get({ accountId, ids, properties: ['receivedAt', 'subject'] });
      const subjects = got.list.map((e) => e.subject);
      assert.deepEqual(subjects.slice(-3), ['Imported 2', 'Imported 1', 'Imported 3'], 'newest first, ties by UID');
      const dates = got.list.map((e) => Date.parse(e.receivedAt!));
      assert.deepEqual(
        dates,
        [...dates].sort((a, b) => b - a),
      );
      const oldest = await fresh({
        filter: { inMailbox: inbox },
        sort: [{ property: 'receivedAt', isAscending: true }],
      });
      assert.deepEqual(oldest.ids, [...ids].reverse(), 'oldest first is newest first reversed');
      const unread = await fresh({ filter: { inMailbox: inbox, notKeyword: '$seen' } });
      assert.deepEqual(
        unread.ids,
        ids.filter((id) => id !== ids[subjects.indexOf('Imported 1')]),
      );

      const page = async (args: Query) => {
        const [answer] = await jam.api.Email.query({ accountId, filter: { inMailbox: inbox }, ...args } as never);
        return [answer.position, answer.ids];
      };
      assert.deepEqual(await page({ limit: 3 }), [0, ids.slice(0, 3)]);
      assert.deepEqual(await page({ position: 2, limit: 3 }), [2, ids.slice(2, 5)]);
      assert.deepEqual(await page({ position: -2 }), [ids.length - 2, ids.slice(-2)]);
      assert.deepEqual(await page({ position: 100 }), [ids.length, []]);
      assert.deepEqual(await page({ anchor: ids[4], anchorOffset: -1, limit: 2 }), [3, ids.slice(3, 5)]);
      assert.deepEqual(await page({ filter: { inMailbox: inbox, notKeyword: '$seen' }, position: 1, limit: 2 }), [
        1,
        unread.ids.slice(1, 3),
      ]);
      const missing = await call('Email/query', { filter: { inMailbox: inbox }, anchor: 'M999999' });
      assert.equal(missing.type, 'anchorNotFound');
    });

    it('says every query can calculate changes', async () => {
      for (const [what, query] of queries()) assert.equal((await fresh(query)).canCalculateChanges, true, what);
    });

    it('follows deliveries, flags, deletes and moves, against a fresh query', async () => {
      // One call at a time: the server takes at most 4 requests of an account at once.
      let starts: { ids: string[]; state: string }[] = [];
      for (const [, query] of queries()) starts.push(await fresh(query));
      const step = async (what: string, change: () => Promise<unknown>) => {
        await change();
        const next = [];
        for (const [i, [name, query]] of queries().entries())
          next.push((await follows(query, starts[i]!, `${what}: ${name}`)).now);
        starts = next;
      };
      const inboxIds = async () => (await fresh({ filter: { inMailbox: inbox } })).ids;

      await step('nothing changed', async () => {});
      await step('two delivered', () => send(2));
      await step('flagged and seen over IMAP', () =>
        withImap(async (client) => {
          await client.mailboxOpen('INBOX');
          await client.messageFlagsAdd('1:3', ['\\Flagged']);
          await client.messageFlagsAdd('2:5', ['\\Seen']);
        }),
      );
      await step('keywords set over JMAP', async () => {
        const ids = await inboxIds();
        await jam.api.Email.set({
          accountId,
          update: {
            [ids[0]!]: { 'keywords/$flagged': true } as never,
            [ids.at(-1)!]: { 'keywords/$seen': true } as never,
          },
        });
      });
      await step('deleted over IMAP', () =>
        withImap(async (client) => {
          await client.mailboxOpen('INBOX');
          await client.messageDelete('2', { uid: false });
        }),
      );
      await step('moved to the archive over JMAP', async () => {
        const ids = await inboxIds();
        await jam.api.Email.set({
          accountId,
          update: { [ids[1]!]: { mailboxIds: { [archive]: true } }, [ids[3]!]: { mailboxIds: { [archive]: true } } },
        });
      });
      await step('moved back over IMAP', () =>
        withImap(async (client) => {
          await client.mailboxOpen('Archive');
          await client.messageMove('1', 'INBOX');
        }),
      );
      await step('destroyed over JMAP and one delivered', async () => {
        const ids = await inboxIds();
        await jam.api.Email.set({ accountId, destroy: [ids.at(-2)!] });
        await send(1);
      });
      // A conversation: the replies join the first message's thread.
      await step('a conversation delivered', () => converse(3));
      const planIds = async () =>
        (
          await fresh({
            filter: { subject: `Plan ${conversations}` },
            sort: [{ property: 'receivedAt', isAscending: true }],
          })
        ).ids;
      await step('one of the conversation flagged', async () => {
        const [first] = await planIds();
        await jam.api.Email.set({ accountId, update: { [first!]: { 'keywords/$flagged': true } as never } });
      });
      await step('one of the conversation moved to the archive', async () => {
        const [, second] = await planIds();
        await jam.api.Email.set({ accountId, update: { [second!]: { mailboxIds: { [archive]: true } } } });
      });
      await step('the conversation read over IMAP, one unflagged', () =>
        withImap(async (client) => {
          await client.mailboxOpen('INBOX');
          await client.messageFlagsAdd({ subject: `Plan ${conversations}` }, ['\\Seen']);
          await client.messageFlagsRemove({ subject: `Plan ${conversations}` }, ['\\Flagged']);
        }),
      );
      await step('the archived one of the conversation flagged', async () => {
        const [, second] = await planIds();
        await jam.api.Email.set({ accountId, update: { [second!]: { 'keywords/$flagged': true } as never } });
      });
      await step('a reply delivered, the first of the conversation destroyed', async () => {
        const [first] = await planIds();
        await jam.api.Email.set({ accountId, destroy: [first!] });
        await converse(1, 'Re: ');
      });
      await step('a Mailbox renamed', async () => {
        await jam.api.Mailbox.set({ accountId, update: { [archive]: { name: 'Kept' } } });
      });
      await step('and named back', async () => {
        await jam.api.Mailbox.set({ accountId, update: { [archive]: { name: 'Archive' } } });
      });
    });

    it('follows several changes at once, and answers no changes from the new state', async () => {
      const query = { filter: { inMailbox: inbox, notKeyword: '$seen' } };
      const start = await fresh(query);
      await send(1);
      await withImap(async (client) => {
        await client.mailboxOpen('INBOX');
        await client.messageFlagsAdd('1', ['\\Seen']);
        await client.messageFlagsRemove('2:3', ['\\Seen']);
        await client.messageMove('4', 'Archive');
      });
      const { changes, now } = await follows(query, start, 'several changes');
      assert.equal(changes.newQueryState, now.state);
      const again = await queryChanges(query, changes.newQueryState);
      assert.deepEqual([again.removed, again.added], [[], []]);
    });

    it('leaves out changes after upToId, and keeps those before it', async () => {
      const query = { filter: { inMailbox: inbox } };
      const start = await fresh(query);
      const cached = start.ids.slice(0, 3);
      await send(1); // at index 0, before upToId
      const [oldest, nextOldest] = [start.ids.at(-1)!, start.ids.at(-2)!]; // after upToId
      await jam.api.Email.set({
        accountId,
        update: {
          [oldest]: { 'keywords/$label1': true } as never,
          [nextOldest]: { 'keywords/$label1': true } as never,
        },
      });
      const changes = await queryChanges(query, start.state, { upToId: cached.at(-1) });
      assert.equal(changes.name, 'Email/queryChanges');
      const now = await fresh(query);
      assert.deepEqual(changes.added, [{ id: now.ids[0]!, index: 0 }]);
      assert.ok(!changes.removed.includes(oldest), 'a change after upToId is left out');
      assert.deepEqual(spliced(cached, changes.removed, changes.added), now.ids.slice(0, 4));
      const all = await queryChanges(query, start.state);
      assert.deepEqual(spliced(start.ids, all.removed, all.added), now.ids, 'without upToId, all changes');
      assert.ok(all.removed.includes(oldest) && all.removed.includes(nextOldest));
    });

    it('leaves out changes after upToId across Mailboxes in a fixed order, and ignores it in a keyword order', async () => {
      const everywhere = { sort: [{ property: 'subject', isAscending: false }] };
      const byFlag = { sort: [{ property: 'hasKeyword', keyword: '$label2', isAscending: false }] };
      const start = await fresh(everywhere);
      const flagStart = await fresh(byFlag);
      const cached = start.ids.slice(0, 3);
      await send(1);
      const [last, nextToLast] = [start.ids.at(-1)!, start.ids.at(-2)!];
      await jam.api.Email.set({
        accountId,
        update: {
          [last]: { 'keywords/$label2': true } as never,
          [nextToLast]: { 'keywords/$label2': true } as never,
        },
      });
      const now = await fresh(everywhere);
      const changes = await queryChanges(everywhere, start.state, { upToId: cached.at(-1) });
      assert.equal(changes.name, 'Email/queryChanges', JSON.stringify(changes));
      const upTo = now.ids.indexOf(cached.at(-1)!);
      assert.deepEqual(spliced(cached, changes.removed, changes.added), now.ids.slice(0, upTo + 1));
      assert.ok(!changes.removed.includes(last), 'a change after upToId is left out');
      const all = await queryChanges(everywhere, start.state);
      assert.deepEqual(spliced(start.ids, all.removed, all.added), now.ids, 'without upToId, all changes');
      // The flags move Emails in a keyword order: upToId is ignored, and every change told.
      const flagNow = await fresh(byFlag);
      const ignoring = await queryChanges(byFlag, flagStart.state, { upToId: flagStart.ids[2] });
      assert.deepEqual(spliced(flagStart.ids, ignoring.removed, ignoring.added), flagNow.ids);
      assert.deepEqual(flagNow.ids.slice(0, 2).sort(), [last, nextToLast].sort());
    });

    it('answers tooManyChanges past maxChanges, and cannotCalculateChanges for a state it did not make', async () => {
      const query = { filter: { inMailbox: inbox } };
      const start = await fresh(query);
      await send(2);
      const over = await queryChanges(query, start.state, { maxChanges: 3 });
      assert.equal(over.type, 'tooManyChanges');
      const enough = await queryChanges(query, start.state, { maxChanges: 4 });
      assert.equal(enough.added.length + enough.removed.length, 4);
      assert.equal((await queryChanges(query, 'not-a-state')).type, 'cannotCalculateChanges');
      const bad = await call('Email/queryChanges', { ...query, sinceQueryState: start.state, maxChanges: -1 });
      assert.equal(bad.type, 'invalidArguments');
      const unknown = await call('Email/queryChanges', {
        filter: { inMailbox: inbox, colour: 'red' },
        sinceQueryState: start.state,
      });
      assert.equal(unknown.type, 'unsupportedFilter');
    });

    it('follows a Mailbox made after the state, and refuses one destroyed since', async () => {
      const before = await fresh({ filter: { inMailbox: inbox } });
      const [made] = await jam.api.Mailbox.set({ accountId, create: { p: { name: 'Projects' } } });
      const projects = made.created!.p!.id;
      const ids = await fresh({ filter: { inMailbox: inbox } });
      await jam.api.Email.set({ accountId, update: { [ids.ids[0]!]: { mailboxIds: { [projects]: true } } } });
      const query = { filter: { inMailbox: projects } };
      await follows(query, { ids: [], state: before.state }, 'a Mailbox made since');
      const start = await fresh(query);
      const everywhere = await fresh({});
      const inboxOnly = await fresh({ filter: { inMailbox: inbox } });
      await jam.api.Mailbox.set({ accountId, destroy: [projects], onDestroyRemoveEmails: true });
      assert.equal((await queryChanges(query, start.state)).type, 'cannotCalculateChanges');
      // The Emails it held went without a trace: any query that read that Mailbox, or threads, cannot be followed.
      assert.equal((await queryChanges({}, everywhere.state)).type, 'cannotCalculateChanges');
      assert.equal(
        (await queryChanges({ filter: { inMailbox: inbox }, collapseThreads: true }, inboxOnly.state)).type,
        'cannotCalculateChanges',
      );
      // One that reads another Mailbox alone still can.
      await follows({ filter: { inMailbox: inbox } }, inboxOnly, 'a Mailbox it does not read destroyed');
    });
  });
}
