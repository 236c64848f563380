// Blob upload (RFC 8620 6.1) and what uploads are for: Email/import (seen over IMAP with its flags and
// INTERNALDATE), Email/parse, download; the limits (size, another account's blobs) and the expiry
// of uploads with housekeeping deleting their content.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Housekeeping } from '../../src/flow/queue/housekeeping.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type JmapTestNode, startJmapNode } from './jmap-test-node.ts';

const message = [
  'From: "Carol Sender" <carol@elsewhere.example>',
  'To: alice@test.example, Team: dan@test.example, erin@test.example;',
  'Subject: =?UTF-8?Q?Imported_r=C3=A9sum=C3=A9?=',
  'Date: Tue, 02 Jan 2024 10:30:00 +0100',
  'Message-ID: <imported-1@elsewhere.example>',
  'List-Unsubscribe: <mailto:leave@lists.example>, <https://lists.example/leave>',
  'X-Custom: first',
  'X-Custom:  second',
  '  folded',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'The quarterly numbers are in the attachment.',
  '--b1',
  'Content-Type: application/pdf; name="numbers.pdf"',
  'Content-Disposition: attachment; filename="numbers.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('%PDF-1.4 pretend').toString('base64'),
  '--b1--',
  '',
].join('\r\n');

for (const name of backendNames) {
  describe(`JMAP upload on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let base: string;
    let accountId: string;
    let bobAccount: string;
    let inbox: string;
    let archive: string;
    let maxSizeUpload: number;
    let node: JmapTestNode;
    let auth: string;
    let bobAuth: string;
    const upload = (body: string | Buffer, type = 'message/rfc822', who = auth, account = accountId) =>
      node.upload(body, type, who, account);
    const call = (methodCalls: unknown[], who = auth) => node.call(methodCalls, who);

    before(async () => {
      node = await startJmapNode(name, ['alice@test.example', 'bob@test.example'], {
        toml: '[smtp]\nmax_message_size = "1MB"\n',
      });
      ({ t, base, accountId } = node);
      auth = node.auth();
      bobAuth = node.auth('bob@test.example');
      maxSizeUpload = (await node.session()).capabilities['urn:ietf:params:jmap:core'].maxSizeUpload;
      bobAccount = await node.accountIdOf('bob@test.example');
      ({ inbox, archive } = (await node.mailboxRoles()) as { inbox: string; archive: string });
    });
    after(() => t.stop());

    it('uploads, imports, and IMAP sees the message with its flags and INTERNALDATE', async () => {
      assert.ok(maxSizeUpload >= 1_000_000 && maxSizeUpload < 2_000_000, String(maxSizeUpload));
      const up = await upload(message);
      assert.equal(up.status, 201);
      assert.equal(up.json.accountId, accountId);
      assert.match(up.json.blobId, /^U[0-9]+$/);
      assert.equal(up.json.type, 'message/rfc822');
      assert.equal(up.json.size, Buffer.byteLength(message));

      // Downloadable as uploaded.
      const download = await fetch(`${base}/jmap/download/${accountId}/${up.json.blobId}/m.eml?type=message/rfc822`, {
        headers: { Authorization: auth },
      });
      assert.equal(download.status, 200);
      assert.equal(await download.text(), message);

      const [[, imported]] = await call([
        [
          'Email/import',
          {
            accountId,
            emails: {
              k1: {
                blobId: up.json.blobId,
                mailboxIds: { [archive]: true },
                keywords: { $seen: true, $flagged: true, project: true },
                receivedAt: '2024-01-02T09:45:00Z',
              },
            },
          },
          'i',
        ],
      ]);
      const created = imported.created.k1;
      const [[, got]] = await call([
        [
          'Email/get',
          {
            accountId,
            ids: [created.id],
            properties: ['subject', 'mailboxIds', 'keywords', 'receivedAt', 'size', 'from', 'messageId'],
          },
          'g',
        ],
      ]);
      assert.match(created.id, /^M[0-9]+$/);
      assert.match(created.blobId, /^B[0-9]+$/);
      assert.match(created.threadId, /^T[0-9]+$/);
      assert.equal(created.size, Buffer.byteLength(message));
      assert.notEqual(imported.oldState, imported.newState);
      const email = got.list[0];
      assert.equal(email.subject, 'Imported résumé');
      assert.deepEqual(email.mailboxIds, { [archive]: true });
      assert.deepEqual(email.keywords, { $seen: true, $flagged: true, project: true });
      assert.equal(email.receivedAt, '2024-01-02T09:45:00Z');
      assert.deepEqual(email.messageId, ['imported-1@elsewhere.example']);

      await node.withImap(async (client) => {
        await client.mailboxOpen('Archive');
        const fetched = await client.fetchOne('*', { flags: true, internalDate: true, source: true });
        assert.ok(fetched);
        assert.deepEqual([...fetched.flags!].sort(), ['\\Flagged', '\\Seen', 'project']);
        assert.equal((fetched.internalDate as Date).toISOString(), '2024-01-02T09:45:00.000Z');
        assert.equal(fetched.source!.toString(), message);
      });
    });

    it('parses uploaded messages and their parts with Email/parse, header forms included', async () => {
      const up = await upload(message);
      const [[, parsed]] = await call([
        [
          'Email/parse',
          {
            accountId,
            blobIds: [up.json.blobId, 'U999999', 'B999999'],
            properties: [
              'id',
              'blobId',
              'mailboxIds',
              'subject',
              'from',
              'to',
              'sentAt',
              'attachments',
              'textBody',
              'bodyValues',
              'preview',
              'header:To:asGroupedAddresses',
              'header:X-Custom:all',
              'header:X-Custom:asText:all',
              'header:List-Unsubscribe:asURLs',
              'header:Date:asDate',
              'header:Subject:asText',
              'header:Subject',
            ],
            fetchTextBodyValues: true,
          },
          'p',
        ],
      ]);
      assert.deepEqual(parsed.notFound.sort(), ['B999999', 'U999999']);
      const email = parsed.parsed[up.json.blobId];
      assert.equal(email.id, null);
      assert.equal(email.mailboxIds, null);
      assert.equal(email.blobId, up.json.blobId);
      assert.equal(email.subject, 'Imported résumé');
      assert.deepEqual(email.from, [{ name: 'Carol Sender', email: 'carol@elsewhere.example' }]);
      assert.equal(email.sentAt, '2024-01-02T09:30:00Z');
      assert.equal(email.preview, 'The quarterly numbers are in the attachment.');
      assert.equal(email.bodyValues[email.textBody[0].partId].value, 'The quarterly numbers are in the attachment.');
      assert.deepEqual(email['header:To:asGroupedAddresses'], [
        { name: null, addresses: [{ name: null, email: 'alice@test.example' }] },
        {
          name: 'Team',
          addresses: [
            { name: null, email: 'dan@test.example' },
            { name: null, email: 'erin@test.example' },
          ],
        },
      ]);
      assert.deepEqual(email['header:X-Custom:all'], [' first', '  second\r\n  folded']);
      assert.deepEqual(email['header:X-Custom:asText:all'], ['first', 'second  folded']);
      assert.deepEqual(email['header:List-Unsubscribe:asURLs'], [
        'mailto:leave@lists.example',
        'https://lists.example/leave',
      ]);
      assert.equal(email['header:Date:asDate'], '2024-01-02T09:30:00Z');
      assert.equal(email['header:Subject:asText'], 'Imported résumé');
      assert.equal(email['header:Subject'], ' =?UTF-8?Q?Imported_r=C3=A9sum=C3=A9?=');

      // The attachment's blob id is a part of the upload: downloadable, decoded.
      const [pdf] = email.attachments;
      assert.equal(pdf.name, 'numbers.pdf');
      assert.match(pdf.blobId, /^U[0-9]+-2$/);
      const part = await fetch(`${base}/jmap/download/${accountId}/${pdf.blobId}/numbers.pdf`, {
        headers: { Authorization: auth },
      });
      assert.equal(await part.text(), '%PDF-1.4 pretend');

      // A header form a field does not allow is refused.
      const [[kind, error]] = await call([
        ['Email/parse', { accountId, blobIds: [up.json.blobId], properties: ['header:From:asDate'] }, 'x'],
      ]);
      assert.equal(kind, 'error');
      assert.equal(error.type, 'invalidArguments');
    });

    it('refuses an upload over maxSizeUpload with 413, and keeps accounts apart', async () => {
      const tooBig = await upload(Buffer.alloc(maxSizeUpload + 1, 'a'), 'application/octet-stream');
      assert.equal(tooBig.status, 413);
      assert.equal(tooBig.json.type, 'urn:ietf:params:jmap:error:limit');
      assert.equal(tooBig.json.limit, 'maxSizeUpload');
      // Chunked, without a Content-Length: cut off once past the limit.
      const chunked = await fetch(`${base}/jmap/upload/${accountId}/`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(100_000));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(chunked.status, 413);

      // Another account's upload URL, and another account's blob.
      assert.equal((await upload('x', 'text/plain', auth, bobAccount)).status, 404);
      const alices = await upload(message);
      const [[, imported]] = await call(
        [
          [
            'Email/import',
            { accountId: bobAccount, emails: { k: { blobId: alices.json.blobId, mailboxIds: { [inbox]: true } } } },
            'i',
          ],
        ],
        bobAuth,
      );
      assert.ok(['blobNotFound', 'invalidProperties'].includes(imported.notCreated.k.type));
      const [[, bobParse]] = await call(
        [['Email/parse', { accountId: bobAccount, blobIds: [alices.json.blobId] }, 'p']],
        bobAuth,
      );
      assert.deepEqual(bobParse.notFound, [alices.json.blobId]);
      const download = await fetch(`${base}/jmap/download/${bobAccount}/${alices.json.blobId}/x`, {
        headers: { Authorization: bobAuth },
      });
      assert.equal(download.status, 404);

      // Import errors: not a message, unknown mailbox, two mailboxes.
      const junk = await upload(Buffer.from([0, 1, 2, 3]), 'application/octet-stream');
      const [[, errors]] = await call([
        [
          'Email/import',
          {
            accountId,
            emails: {
              junk: { blobId: junk.json.blobId, mailboxIds: { [inbox]: true } },
              nobox: { blobId: alices.json.blobId, mailboxIds: { m999999: true } },
              two: { blobId: alices.json.blobId, mailboxIds: { [inbox]: true, [archive]: true } },
              noblob: { blobId: 'U999999', mailboxIds: { [inbox]: true } },
            },
          },
          'i',
        ],
      ]);
      assert.equal(errors.notCreated.junk.type, 'invalidEmail');
      assert.equal(errors.notCreated.nobox.type, 'invalidProperties');
      assert.equal(errors.notCreated.two.type, 'tooManyMailboxes');
      assert.equal(errors.notCreated.noblob.type, 'blobNotFound');
      assert.equal(errors.created, null);

      // Email/copy: no other account to copy from.
      const [[copyKind, copyError]] = await call([
        ['Email/copy', { accountId, fromAccountId: 'a999999', create: {} }, 'c'],
      ]);
      assert.equal(copyKind, 'error');
      assert.equal(copyError.type, 'fromAccountNotFound');
    });

    it('forgets expired uploads, and housekeeping deletes their content unless a message uses it', async () => {
      const store = t.node.holdfast.store;
      const lonely = await upload(`Subject: lonely ${name}\r\n\r\nnobody imports me\r\n`);
      const used = await upload(`Subject: used ${name}\r\n\r\nimported\r\n`);
      const [[, imported]] = await call([
        [
          'Email/import',
          { accountId, emails: { k: { blobId: used.json.blobId, mailboxIds: { [inbox]: true } } } },
          'i',
        ],
      ]);
      assert.ok(imported.created.k);
      const hashOf = async (blobId: string) =>
        (
          await store.db
            .selectFrom('jmap_uploads')
            .select('blob_hash')
            .where('id', '=', Number(blobId.slice(1)))
            .executeTakeFirstOrThrow()
        ).blob_hash;
      const lonelyHash = await hashOf(lonely.json.blobId);
      const usedHash = await hashOf(used.json.blobId);
      t.clock.advance(25 * 3_600_000);
      // Expired: no longer found.
      const [[, parse]] = await call([['Email/parse', { accountId, blobIds: [lonely.json.blobId] }, 'p']]);
      assert.deepEqual(parse.notFound, [lonely.json.blobId]);
      const housekeeping = new Housekeeping({
        db: store.db,
        blobs: store.blobs,
        keepFinishedMs: 7 * 24 * 3_600_000,
        logger: silentLogger(),
        now: t.clock.now,
      });
      await housekeeping.round();
      t.clock.advance(2 * 60_000);
      await housekeeping.round();
      assert.equal(
        (await store.db.selectFrom('jmap_uploads').select('id').where('expires_at', '<=', t.clock.now()).execute())
          .length,
        0,
      );
      assert.equal(await store.blobs.has(lonelyHash), false);
      assert.equal(await store.blobs.has(usedHash), true);
    });
  });
}
