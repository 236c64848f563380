// Email/get, Email/query, Email/changes, Email/set and blob download through jmap-jam, with SMTP
// delivering and IMAP (imapflow) reading and changing the same mailbox: one mailbox, two protocols.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type BasicJam, postApi } from './jmap-client.ts';
import { type JmapTestNode, mailUsing as using, startJmapNode } from './jmap-test-node.ts';
const attachment = 'attached bytes\n'.repeat(20);

for (const name of backendNames) {
  describe(`JMAP Email on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    let inbox: string;
    let archive: string;
    let node: JmapTestNode;
    let auth: string;
    const imap = () => node.imap();
    const send = (subject: string, text: string, extra: object = {}) =>
      node.deliver('bob@test.example', 'alice@test.example', {
        from: '"Bob Example" <bob@test.example>',
        subject,
        text,
        ...extra,
      });
    const newest = async () => {
      const [query] = await jam.api.Email.query({ accountId, filter: { inMailbox: inbox }, limit: 1 });
      return query.ids[0]!;
    };

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example']);
      ({ t, base, jam, accountId } = node);
      auth = node.auth();
      ({ inbox, archive } = (await node.mailboxRoles()) as { inbox: string; archive: string });
    });
    after(() => t.stop());

    it('shows a message delivered by SMTP through Email/query and Email/get', async () => {
      await send('Quarterly figures', 'Plain text of the figures.\nSecond line.', {
        html: '<p>HTML of <b>the figures</b></p>',
        attachments: [{ filename: 'figures.txt', content: attachment, contentType: 'text/plain' }],
      });
      const id = await newest();
      const [got] = await jam.api.Email.get({
        accountId,
        ids: [id],
        properties: [
          'id',
          'blobId',
          'threadId',
          'mailboxIds',
          'keywords',
          'size',
          'receivedAt',
          'messageId',
          'from',
          'to',
          'subject',
          'sentAt',
          'preview',
          'hasAttachment',
          'bodyStructure',
          'textBody',
          'htmlBody',
          'attachments',
          'bodyValues',
          'replyTo',
        ],
        fetchTextBodyValues: true,
        fetchHTMLBodyValues: true,
      });
      const email = got.list[0]!;
      assert.equal(email.subject, 'Quarterly figures');
      assert.deepEqual(email.from, [{ name: 'Bob Example', email: 'bob@test.example' }]);
      assert.deepEqual(email.to, [{ name: null, email: 'alice@test.example' }]);
      assert.equal(email.replyTo, null);
      assert.deepEqual(email.mailboxIds, { [inbox]: true });
      assert.deepEqual(email.keywords, {});
      assert.match(email.receivedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(email.sentAt!, /Z$/);
      assert.equal(email.messageId?.length, 1);
      assert.ok(email.size > attachment.length);
      assert.equal(email.preview, 'Plain text of the figures. Second line.');
      assert.equal(email.hasAttachment, true);
      assert.equal(email.bodyStructure.type, 'multipart/mixed');
      assert.deepEqual(
        email.textBody.map((p) => p.type),
        ['text/plain'],
      );
      assert.deepEqual(
        email.htmlBody.map((p) => p.type),
        ['text/html'],
      );
      assert.equal(email.attachments.length, 1);
      assert.equal(email.attachments[0]!.name, 'figures.txt');
      const text = email.textBody[0]!;
      assert.equal(email.bodyValues[text.partId!]!.value, 'Plain text of the figures.\nSecond line.');
      assert.match(email.bodyValues[email.htmlBody[0]!.partId!]!.value, /<b>the figures<\/b>/);

      // Truncated body values, and the query and get in one request through a result reference.
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Email/query', { accountId, filter: { subject: 'quarterly' } }, 'q'],
            [
              'Email/get',
              {
                accountId,
                '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
                properties: ['subject', 'bodyValues'],
                fetchTextBodyValues: true,
                maxBodyValueBytes: 10,
              },
              'g',
            ],
          ],
        },
        auth,
      );
      const [, [, g]] = json.methodResponses;
      assert.equal(g.list[0].subject, 'Quarterly figures');
      assert.deepEqual(Object.values(g.list[0].bodyValues)[0], {
        value: 'Plain text',
        isEncodingProblem: false,
        isTruncated: true,
      });

      // The whole message and one part, downloaded.
      const whole = await jam.downloadBlob({
        accountId,
        blobId: email.blobId,
        mimeType: 'message/rfc822',
        fileName: 'm.eml',
      });
      assert.match(await whole.text(), /Subject: Quarterly figures/);
      const part = await jam.downloadBlob({
        accountId,
        blobId: email.attachments[0]!.blobId!,
        mimeType: 'text/plain',
        fileName: 'figures.txt',
      });
      assert.equal(await part.text(), attachment);
      const bob = node.auth('bob@test.example');
      const foreign = await fetch(`${base}/jmap/download/${accountId}/${email.blobId}/m.eml`, {
        headers: { Authorization: bob },
      });
      assert.equal(foreign.status, 404, "another account's blobs are not found");
    });

    it('shows IMAP STORE \\Seen as $seen through Email/changes', async () => {
      const id = await newest();
      const [{ state }] = await jam.api.Email.get({ accountId, ids: [] });
      const client = await imap();
      try {
        await client.mailboxOpen('INBOX');
        await client.messageFlagsAdd('*', ['\\Seen']);
      } finally {
        await client.logout();
      }
      const [changes] = await jam.api.Email.changes({ accountId, sinceState: state });
      assert.deepEqual(changes.updated, [id]);
      assert.deepEqual([changes.created, changes.destroyed], [[], []]);
      const [got] = await jam.api.Email.get({ accountId, ids: [id], properties: ['keywords'] });
      assert.deepEqual(got.list[0]!.keywords, { $seen: true });
      const [unread] = await jam.api.Email.query({ accountId, filter: { notKeyword: '$seen' } });
      assert.ok(!unread.ids.includes(id));
    });

    it('shows Email/set keywords over IMAP (FETCH FLAGS)', async () => {
      const id = await newest();
      const [set] = await jam.api.Email.set({
        accountId,
        update: { [id]: { 'keywords/$flagged': true, 'keywords/$seen': null, 'keywords/project-x': true } as never },
      });
      assert.deepEqual(set.updated, { [id]: null });
      assert.notEqual(set.oldState, set.newState);
      const client = await imap();
      try {
        await client.mailboxOpen('INBOX');
        const message = await client.fetchOne('*', { flags: true });
        assert.deepEqual([...(message as { flags: Set<string> }).flags].sort(), ['\\Flagged', 'project-x']);
      } finally {
        await client.logout();
      }
      const [replaced] = await jam.api.Email.set({ accountId, update: { [id]: { keywords: { $answered: true } } } });
      assert.deepEqual(replaced.updated, { [id]: null });
      const [got] = await jam.api.Email.get({ accountId, ids: [id], properties: ['keywords'] });
      assert.deepEqual(got.list[0]!.keywords, { $answered: true });
    });

    it('moves with mailboxIds and destroys, which IMAP sees as EXPUNGE', async () => {
      await send('Move me', 'to the archive');
      await send('Destroy me', 'gone soon');
      const [{ ids }] = await jam.api.Email.query({ accountId, filter: { inMailbox: inbox }, limit: 2 });
      const [destroyId, moveId] = ids as [string, string];
      const [{ state }] = await jam.api.Email.get({ accountId, ids: [] });
      const client = await imap();
      const expunged: number[] = [];
      client.on('expunge', (event: { seq: number }) => expunged.push(event.seq));
      try {
        const opened = await client.mailboxOpen('INBOX');
        const count = opened.exists;
        const [moved] = await jam.api.Email.set({
          accountId,
          update: { [moveId]: { mailboxIds: { [archive]: true } } },
        });
        // The Email keeps its id in the archive (RFC 8621: ids are immutable).
        assert.deepEqual(moved.updated, { [moveId]: null });
        const newId = moveId;
        const [destroyed] = await jam.api.Email.set({ accountId, destroy: [destroyId] });
        assert.deepEqual(destroyed.destroyed, [destroyId]);
        await client.noop();
        await t.waitFor(async () => {
          if (expunged.length === 2) return true;
          await client.noop();
          return false;
        }, 'two EXPUNGEs over IMAP');
        assert.equal(client.mailbox && (client.mailbox as { exists: number }).exists, count - 2);
        const status = await client.status('Archive', { messages: true });
        assert.equal(status ? status.messages : undefined, 1);

        const [changes] = await jam.api.Email.changes({ accountId, sinceState: state });
        assert.deepEqual(changes.destroyed, [destroyId]);
        assert.deepEqual(changes.updated, [moveId], 'a move is an update of the Email');
        assert.deepEqual(changes.created, []);
        const [got] = await jam.api.Email.get({
          accountId,
          ids: [newId, destroyId],
          properties: ['mailboxIds', 'subject'],
        });
        assert.deepEqual(got.list, [{ id: newId, mailboxIds: { [archive]: true }, subject: 'Move me' }]);
        assert.deepEqual(got.notFound, [destroyId]);
      } finally {
        await client.logout();
      }
    });

    it('shows IMAP EXPUNGE and APPEND in Email/changes, in steps with maxChanges', async () => {
      const [{ state }] = await jam.api.Email.get({ accountId, ids: [] });
      const client = await imap();
      try {
        const one = await client.append('INBOX', 'Subject: one\r\n\r\nbody\r\n');
        await client.append('INBOX', 'Subject: two\r\n\r\nbody\r\n');
        await client.mailboxOpen('INBOX');
        await client.messageDelete(String(one ? one.uid : 0), { uid: true });
      } finally {
        await client.logout();
      }
      const [all] = await jam.api.Email.changes({ accountId, sinceState: state });
      // "one" came and went since: it is only destroyed (RFC 8620 5.2 allows that).
      assert.equal(all.created.length, 1);
      assert.equal(all.destroyed.length, 1);
      const seen: string[] = [];
      let at = state;
      for (let step = 0; step < 10; step++) {
        const [page] = await jam.api.Email.changes({ accountId, sinceState: at, maxChanges: 1 });
        seen.push(...page.created, ...page.updated, ...page.destroyed);
        at = page.newState;
        if (!page.hasMoreChanges) break;
      }
      assert.equal(at, all.newState);
      assert.deepEqual(seen.sort(), [...all.created, ...all.destroyed].sort());
    });

    it('filters, sorts and pages Email/query', async () => {
      const [from] = await jam.api.Email.query({ accountId, filter: { from: 'bob example' }, calculateTotal: true });
      assert.equal(from.total, 2, 'the messages Bob sent that are left');
      const [text] = await jam.api.Email.query({ accountId, filter: { text: 'Second line' } });
      assert.equal(text.ids.length, 1);
      const [body] = await jam.api.Email.query({ accountId, filter: { body: 'archive' } });
      assert.equal(body.ids.length, 1);
      const [not] = await jam.api.Email.query({
        accountId,
        filter: { operator: 'NOT', conditions: [{ inMailbox: inbox }] },
      });
      assert.deepEqual(not.ids, body.ids);
      const [bySize] = await jam.api.Email.query({ accountId, sort: [{ property: 'size', isAscending: true }] });
      const [sizes] = await jam.api.Email.get({ accountId, ids: bySize.ids, properties: ['size'] });
      const list = sizes.list.map((e) => e.size);
      assert.deepEqual(
        list,
        [...list].sort((a, b) => a - b),
      );
      const [page] = await jam.api.Email.query({ accountId, sort: [{ property: 'size' }], position: 1, limit: 2 });
      assert.deepEqual(page.ids, bySize.ids.slice(1, 3));
      const [anchored] = await jam.api.Email.query({
        accountId,
        sort: [{ property: 'size' }],
        anchor: bySize.ids[2],
        anchorOffset: -1,
        limit: 1,
      });
      assert.deepEqual(anchored.ids, [bySize.ids[1]]);
    });

    it('answers errors per RFC 8621', async () => {
      const id = await newest();
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            ['Email/get', { accountId }, 'a'],
            ['Email/query', { accountId, filter: { colour: 'red' } }, 'b'],
            ['Email/query', { accountId, sort: [{ property: 'colour' }] }, 'c'],
            ['Email/changes', { accountId, sinceState: 'h2:zz' }, 'd'],
            ['Email/set', { accountId, ifInState: 'old', destroy: [id] }, 'e'],
            [
              'Email/set',
              {
                accountId,
                create: { k1: { subject: 'x' } },
                update: {
                  M999999999999: { 'keywords/$seen': true },
                  [id]: { 'keywords/bad(word': true },
                },
                destroy: ['M999999'],
              },
              'f',
            ],
            ['Email/set', { accountId, update: { [id]: { mailboxIds: { [inbox]: true, [archive]: true } } } }, 'g'],
            ['Email/set', { accountId, update: { [id]: { subject: 'new' } } }, 'h'],
            ['Email/query', { accountId, anchor: 'M999999' }, 'i'],
            ['Email/get', { accountId, ids: [id], properties: ['header:X-Foo:asNothing'] }, 'j'],
          ],
        },
        auth,
      );
      const r = Object.fromEntries(json.methodResponses.map((x: [string, unknown, string]) => [x[2], x]));
      assert.equal(r.a[1].type, 'requestTooLarge');
      assert.equal(r.b[1].type, 'unsupportedFilter');
      assert.equal(r.c[1].type, 'unsupportedSort');
      assert.equal(r.d[1].type, 'cannotCalculateChanges');
      assert.equal(r.e[1].type, 'stateMismatch');
      assert.deepEqual(r.f[1].notCreated.k1.properties, ['mailboxIds']);
      assert.equal(r.f[1].notUpdated.M999999999999.type, 'notFound');
      assert.equal(r.f[1].notUpdated[id].type, 'invalidProperties');
      assert.equal(r.f[1].notDestroyed.M999999.type, 'notFound');
      assert.equal(r.g[1].notUpdated[id].type, 'tooManyMailboxes');
      assert.deepEqual(r.h[1].notUpdated[id].properties, ['subject']);
      assert.equal(r.i[1].type, 'anchorNotFound');
      assert.equal(r.j[1].type, 'invalidArguments');
    });
  });
}
