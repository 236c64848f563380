// Email/set create (RFC 8621 4.6): drafts written from Email objects (body values, uploaded
// attachments, header:… forms), stored as IMAP APPEND stores them and read back over IMAP and with
// mailparser; the refusals (invalidProperties, blobNotFound, overQuota, tooLarge); the Email's
// `headers` and header forms over Email/get; SearchSnippet/get.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type JmapTestNode, password, startJmapNode } from './jmap-test-node.ts';
import { highlight } from '../../src/protocols/jmap/email-parse.ts';

for (const name of backendNames) {
  describe(`JMAP Email/set create on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    let accountId: string;
    let drafts: string;
    let inbox: string;
    let node: JmapTestNode;
    let auth: string;
    const call = (methodCalls: unknown[], who = auth) => node.call(methodCalls, who);
    const upload = async (body: string | Buffer, type: string, who = auth, account = accountId) => {
      const { status, json } = await node.upload(body, type, who, account);
      assert.equal(status, 201);
      return json.blobId as string;
    };

    before(async () => {
      node = await startJmapNode(
        name,
        ['alice@test.example', { kind: 'user', address: 'quinn@test.example', password, quotaBytes: 3000 }],
        { toml: '[smtp]\nmax_message_size = "200KB"\n' },
      );
      ({ t, base, accountId } = node);
      auth = node.auth();
      ({ drafts, inbox } = (await node.mailboxRoles()) as { drafts: string; inbox: string });
    });
    after(() => t.stop());

    it('makes a draft with an uploaded attachment that IMAP and mailparser read back', async () => {
      const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3000, 7)]);
      const blobId = await upload(pdf, 'application/pdf');
      const [[, set]] = await call([
        [
          'Email/set',
          {
            accountId,
            create: {
              d1: {
                mailboxIds: { [drafts]: true },
                keywords: { $draft: true, $seen: true },
                from: [{ name: 'Alice Ñandú', email: 'alice@test.example' }],
                to: [{ name: 'Bob', email: 'bob@test.example' }],
                bcc: [{ name: null, email: 'hidden@test.example' }],
                subject: 'Draft with the numbers – Q3',
                inReplyTo: ['orig-1@test.example'],
                references: ['root-1@test.example', 'orig-1@test.example'],
                'header:X-Tracking:asText': 'café 1',
                'header:List-Post:asURLs': ['mailto:list@test.example'],
                bodyValues: {
                  t: { value: 'Hello Bob,\nthe numbers are attached.\n' },
                  h: { value: '<p>Hello Bob, the <b>numbers</b> are attached.</p>' },
                },
                textBody: [{ partId: 't', type: 'text/plain' }],
                htmlBody: [{ partId: 'h', type: 'text/html' }],
                attachments: [{ blobId, type: 'application/pdf', name: 'numbers Q3.pdf', disposition: 'attachment' }],
              },
            },
          },
          's',
        ],
      ]);
      const created = set.created.d1;
      assert.ok(created, JSON.stringify(set.notCreated));
      assert.match(created.id, /^M[0-9]+$/);
      assert.match(created.blobId, /^B[0-9]+$/);
      assert.match(created.threadId, /^T[0-9]+$/);
      assert.ok(created.size > pdf.length);

      const client = await node.imap();
      let source: Buffer;
      try {
        await client.mailboxOpen('Drafts');
        const fetched = await client.fetchOne('*', { flags: true, source: true });
        assert.ok(fetched);
        assert.deepEqual([...fetched.flags!].sort(), ['\\Draft', '\\Seen']);
        source = fetched.source!;
      } finally {
        await client.logout();
      }
      assert.equal(source.length, created.size);
      const parsed = await simpleParser(source);
      assert.equal(parsed.subject, 'Draft with the numbers – Q3');
      assert.deepEqual(parsed.from?.value, [{ name: 'Alice Ñandú', address: 'alice@test.example' }]);
      assert.equal((parsed.bcc as { text: string }).text, 'hidden@test.example');
      assert.equal(parsed.inReplyTo, '<orig-1@test.example>');
      assert.deepEqual(parsed.references, ['<root-1@test.example>', '<orig-1@test.example>']);
      assert.ok(parsed.messageId?.endsWith('@test.example>'));
      assert.ok(parsed.date);
      // Encoded as RFC 2047 says (mailparser leaves unknown fields as they are).
      assert.equal(parsed.headers.get('x-tracking'), '=?UTF-8?Q?caf=C3=A9?= 1');
      assert.equal(parsed.text, 'Hello Bob,\nthe numbers are attached.\n');
      assert.match(String(parsed.html), /<b>numbers<\/b>/);
      assert.equal(parsed.attachments.length, 1);
      assert.equal(parsed.attachments[0]!.filename, 'numbers Q3.pdf');
      assert.equal(parsed.attachments[0]!.contentType, 'application/pdf');
      assert.deepEqual(parsed.attachments[0]!.content, pdf);

      // And JMAP reads it back, with the header forms and the Email's headers.
      const [[, got]] = await call([
        [
          'Email/get',
          {
            accountId,
            ids: [created.id],
            properties: [
              'subject',
              'from',
              'bcc',
              'keywords',
              'mailboxIds',
              'attachments',
              'headers',
              'header:X-Tracking:asText',
              'header:List-Post:asURLs',
              'header:References:asMessageIds',
              'header:From:asAddresses:all',
              'header:X-Absent',
              'header:X-Absent:all',
            ],
            bodyProperties: ['partId', 'type', 'name', 'header:Content-Type', 'header:Content-Disposition:asRaw'],
          },
          'g',
        ],
      ]);
      const email = got.list[0];
      assert.equal(email.subject, 'Draft with the numbers – Q3');
      assert.deepEqual(email.bcc, [{ name: null, email: 'hidden@test.example' }]);
      assert.deepEqual(email.keywords, { $draft: true, $seen: true });
      assert.equal(email['header:X-Tracking:asText'], 'café 1');
      assert.deepEqual(email['header:List-Post:asURLs'], ['mailto:list@test.example']);
      assert.deepEqual(email['header:References:asMessageIds'], ['root-1@test.example', 'orig-1@test.example']);
      assert.deepEqual(email['header:From:asAddresses:all'], [[{ name: 'Alice Ñandú', email: 'alice@test.example' }]]);
      assert.equal(email['header:X-Absent'], null);
      assert.deepEqual(email['header:X-Absent:all'], []);
      assert.ok(email.headers.some((h: { name: string }) => h.name === 'Subject'));
      assert.ok(email.headers.some((h: { name: string }) => h.name === 'MIME-Version'));
      assert.equal(email.attachments[0].name, 'numbers Q3.pdf');
      assert.match(email.attachments[0]['header:Content-Type'], /application\/pdf/);
      assert.match(email.attachments[0]['header:Content-Disposition:asRaw'], /attachment/);
    });

    it('makes Emails from a bodyStructure and from an attachment of another Email', async () => {
      const [[, first]] = await call([
        [
          'Email/set',
          {
            accountId,
            create: {
              s: {
                mailboxIds: { [inbox]: true },
                subject: 'Structured',
                'header:Date:asDate': '2024-03-04T05:06:07Z',
                bodyValues: { a: { value: 'plain part' } },
                bodyStructure: {
                  type: 'multipart/mixed',
                  subParts: [
                    { partId: 'a', type: 'text/plain' },
                    { blobId: await upload('a,b\n1,2\n', 'text/csv'), type: 'text/csv', name: 'data.csv' },
                  ],
                },
              },
            },
          },
          's',
        ],
      ]);
      const id = first.created.s.id;
      const [[, got]] = await call([
        [
          'Email/get',
          {
            accountId,
            ids: [id],
            properties: ['sentAt', 'bodyStructure', 'attachments', 'receivedAt'],
            bodyProperties: ['partId', 'blobId', 'type', 'name', 'subParts'],
          },
          'g',
        ],
      ]);
      const email = got.list[0];
      assert.equal(email.sentAt, '2024-03-04T05:06:07Z');
      assert.equal(email.bodyStructure.type, 'multipart/mixed');
      assert.deepEqual(
        email.bodyStructure.subParts.map((p: { type: string }) => p.type),
        ['text/plain', 'text/csv'],
      );
      // The stored Email's part as the attachment of a new one.
      const [[, second]] = await call([
        [
          'Email/set',
          {
            accountId,
            create: {
              f: {
                mailboxIds: { [drafts]: true },
                subject: 'Forwarding the data',
                attachments: [{ blobId: email.attachments[0].blobId, type: 'text/csv', name: 'again.csv' }],
              },
            },
          },
          's',
        ],
      ]);
      const [[, forwarded]] = await call([
        [
          'Email/get',
          { accountId, ids: [second.created.f.id], properties: ['attachments'], bodyProperties: ['blobId', 'name'] },
          'g',
        ],
      ]);
      const download = await fetch(
        `${base}/jmap/download/${accountId}/${forwarded.list[0].attachments[0].blobId}/again.csv`,
        { headers: { Authorization: auth } },
      );
      assert.equal(await download.text(), 'a,b\n1,2\n');
    });

    it('refuses what it cannot make, one Email at a time', async () => {
      const big = await upload(Buffer.alloc(150_000, 1), 'application/octet-stream');
      const [[, set]] = await call([
        [
          'Email/set',
          {
            accountId,
            create: {
              ok: { mailboxIds: { [drafts]: true }, subject: 'fine' },
              nobox: { subject: 'no mailbox' },
              serverSet: { mailboxIds: { [drafts]: true }, id: 'M1' },
              twice: { mailboxIds: { [drafts]: true }, subject: 'a', 'header:Subject:asText': 'b' },
              badAddress: { mailboxIds: { [drafts]: true }, to: [{ email: 'not an address' }] },
              contentTop: { mailboxIds: { [drafts]: true }, 'header:Content-Type': 'text/html' },
              noBlob: { mailboxIds: { [drafts]: true }, attachments: [{ blobId: 'U999999', type: 'text/plain' }] },
              noValue: { mailboxIds: { [drafts]: true }, textBody: [{ partId: 'missing' }] },
              badForm: { mailboxIds: { [drafts]: true }, 'header:From:asDate': '2024-01-01T00:00:00Z' },
              tooLarge: {
                mailboxIds: { [drafts]: true },
                attachments: [
                  { blobId: big, type: 'application/octet-stream' },
                  { blobId: big, type: 'application/octet-stream' },
                ],
              },
              twoBoxes: { mailboxIds: { [drafts]: true, [inbox]: true } },
            },
          },
          's',
        ],
      ]);
      assert.ok(set.created.ok);
      const type = (id: string) => set.notCreated[id]?.type;
      assert.equal(type('nobox'), 'invalidProperties');
      assert.deepEqual(set.notCreated.serverSet.properties, ['id']);
      assert.equal(type('twice'), 'invalidProperties');
      assert.equal(type('badAddress'), 'invalidProperties');
      assert.equal(type('contentTop'), 'invalidProperties');
      assert.equal(type('noBlob'), 'blobNotFound');
      assert.deepEqual(set.notCreated.noBlob.notFound, ['U999999']);
      assert.equal(type('noValue'), 'invalidProperties');
      assert.equal(type('badForm'), 'invalidProperties');
      assert.equal(type('tooLarge'), 'tooLarge');
      assert.equal(type('twoBoxes'), 'tooManyMailboxes');

      // The mailbox quota.
      const quinn = node.auth('quinn@test.example');
      const quinnAccount = await node.accountIdOf('quinn@test.example');
      const [[, boxes]] = await call([['Mailbox/get', { accountId: quinnAccount }, 'm']], quinn);
      const quinnDrafts = boxes.list.find((m: { role: string }) => m.role === 'drafts').id;
      const [[, over]] = await call(
        [
          [
            'Email/set',
            {
              accountId: quinnAccount,
              create: {
                big: {
                  mailboxIds: { [quinnDrafts]: true },
                  bodyValues: { t: { value: 'x'.repeat(5000) } },
                  textBody: [{ partId: 't' }],
                },
              },
            },
            's',
          ],
        ],
        quinn,
      );
      assert.equal(over.notCreated.big.type, 'overQuota');
    });

    it('answers search snippets with the matches marked and HTML escaped', async () => {
      const [[, set]] = await call([
        [
          'Email/set',
          {
            accountId,
            create: {
              m: {
                mailboxIds: { [inbox]: true },
                subject: 'Budget <draft> & plans',
                bodyValues: {
                  t: {
                    value: `${'Filler words come first. '.repeat(20)}Here the BUDGET for <next> year is set. ${'More words after. '.repeat(30)}`,
                  },
                },
                textBody: [{ partId: 't' }],
              },
            },
          },
          's',
        ],
      ]);
      const id = set.created.m.id;
      const [[, snippets]] = await call([
        [
          'SearchSnippet/get',
          {
            accountId,
            filter: {
              operator: 'AND',
              conditions: [{ text: 'budget' }, { operator: 'NOT', conditions: [{ body: 'plans' }] }],
            },
            emailIds: [id, 'M999999'],
          },
          'n',
        ],
      ]);
      assert.deepEqual(snippets.notFound, ['M999999']);
      const [snippet] = snippets.list;
      assert.equal(snippet.emailId, id);
      assert.equal(snippet.subject, '<mark>Budget</mark> &lt;draft&gt; &amp; plans');
      assert.match(snippet.preview, /Here the <mark>BUDGET<\/mark> for &lt;next&gt; year is set\./);
      assert.ok(Buffer.byteLength(snippet.preview) <= 255);
      const [[, none]] = await call([
        ['SearchSnippet/get', { accountId, filter: { subject: 'absent' }, emailIds: [id] }, 'n'],
      ]);
      assert.deepEqual(none.list, [{ emailId: id, subject: null, preview: null }]);
      const [[kind, error]] = await call([
        ['SearchSnippet/get', { accountId, filter: { text: 42 }, emailIds: [id] }, 'n'],
      ]);
      assert.equal(kind, 'error');
      assert.equal(error.type, 'unsupportedFilter');
    });
  });
}

describe('search snippet highlighting', () => {
  it('cuts within 255 bytes without breaking marks or entities', () => {
    const text = `${'<&> '.repeat(100)}needle ${'é'.repeat(300)}`;
    const out = highlight(text, ['needle'], 255)!;
    assert.ok(Buffer.byteLength(out) <= 255);
    assert.match(out, /<mark>needle<\/mark>/);
    assert.doesNotMatch(out, /&(?![a-z]+;)/);
    assert.equal(highlight('nothing here', ['needle']), null);
    assert.equal(highlight('a needle and a NEEDLE', ['needle']), 'a <mark>needle</mark> and a <mark>NEEDLE</mark>');
  });
});
