// The pure parts of JMAP alone: JSON pointers with `*` (RFC 8620 3.7), state strings, keywords ⇄
// flags, and textBody/htmlBody/attachments from a body structure (RFC 8621 4.1.4).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMimeTree } from '../../src/message/mime-tree.ts';
import { bodyLists, bodyStructure, bodyValue } from '../../src/protocols/jmap/email-body.ts';
import { MethodError } from '../../src/protocols/jmap/jmap-errors.ts';
import { parseBlobId, parseEmailId, parseThreadId } from '../../src/protocols/jmap/jmap-ids.ts';
import { evaluatePointer } from '../../src/protocols/jmap/jmap-request.ts';
import { decodeState, encodeState } from '../../src/protocols/jmap/jmap-state.ts';
import { flagOf, isKeyword, keywordsOf } from '../../src/protocols/jmap/keywords.ts';

describe('JMAP parts', () => {
  it('evaluates JSON pointers with * and bounds them', () => {
    const doc = { list: [{ ids: ['a', 'b'] }, { ids: ['c'] }], 'x/y': { '~': 1 } };
    assert.deepEqual(evaluatePointer(doc, '/list/*/ids'), ['a', 'b', 'c']);
    assert.deepEqual(evaluatePointer(doc, '/list/1/ids/0'), 'c');
    assert.equal(evaluatePointer(doc, '/x~1y/~0'), 1);
    assert.deepEqual(evaluatePointer(doc, ''), doc);
    const refused = (path: string, on: unknown = doc) =>
      assert.throws(
        () => evaluatePointer(on, path),
        (e: unknown) => e instanceof MethodError && e.type === 'invalidResultReference',
      );
    refused('list');
    refused('/list/01');
    refused('/nothing');
    refused('/a'.repeat(33));
    refused(
      '/*/*',
      Array.from({ length: 200 }, () => Array.from({ length: 100 }, () => 1)),
    );
  });

  it('writes and reads state strings, and refuses others', () => {
    const folders = [
      { id: 12, uidvalidity: 1_790_000_000, modseq: 981, uidnext: 77, look: 'Ab-_9z' },
      { id: 3, uidvalidity: 1, modseq: 1, uidnext: 1, look: 'zzzzzz' },
    ];
    const state = encodeState(folders);
    assert.deepEqual(
      [...decodeState(state)!.values()],
      [...folders].sort((a, b) => a.id - b.id),
    );
    assert.deepEqual(decodeState(encodeState([])), new Map());
    for (const other of ['', 'h2:1.2', 'h1:', 'h2:1.1.1.1.short', 42, null])
      assert.equal(decodeState(other), undefined);
  });

  it('maps keywords and IMAP flags both ways', () => {
    assert.deepEqual(keywordsOf(['\\Seen', '\\Deleted', '\\FLAGGED', '$Forwarded', 'Project']), {
      $seen: true,
      $flagged: true,
      $forwarded: true,
      project: true,
    });
    assert.equal(flagOf('$Seen'), '\\Seen');
    assert.equal(flagOf('$draft'), '\\Draft');
    assert.equal(flagOf('Todo'), 'todo');
    assert.ok(isKeyword('$junk'));
    for (const bad of ['', 'a b', 'a]', 'a(b', 'x\\y', 'é']) assert.ok(!isKeyword(bad), bad);
  });

  it('parses ids strictly', () => {
    assert.equal(parseEmailId('M345'), 345);
    for (const bad of ['M0', 'M01', 'm1', 'e1-1', 'M1-1', 'M9999999999999999', 'T1', 42, null])
      assert.equal(parseEmailId(bad), undefined);
    assert.equal(parseThreadId('T7'), 7);
    assert.equal(parseThreadId('M7'), undefined);
    assert.deepEqual(parseBlobId('P2-1_2'), { emailId: 2, partId: '1.2' });
    assert.deepEqual(parseBlobId('B2'), { emailId: 2 });
    for (const bad of ['P2-', 'B0', 'b1-2', 'p1-2-1']) assert.equal(parseBlobId(bad), undefined);
  });

  it('finds text, HTML and attachments as RFC 8621 4.1.4 does', () => {
    const message = [
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=alt',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'plain',
      '--alt',
      'Content-Type: multipart/related; boundary=rel',
      '',
      '--rel',
      'Content-Type: text/html',
      '',
      '<p>html</p>',
      '--rel',
      'Content-Type: image/png; name=logo.png',
      'Content-ID: <logo@x>',
      'Content-Transfer-Encoding: base64',
      '',
      'iVBORw0KGgo=',
      '--rel--',
      '--alt--',
      '--outer',
      'Content-Type: application/pdf',
      'Content-Disposition: attachment; filename="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="',
      '',
      'pdf',
      '--outer--',
      '',
    ].join('\r\n');
    const root = bodyStructure(parseMimeTree(Buffer.from(message)), (part) => `p-${part}`);
    const { textBody, htmlBody, attachments } = bodyLists(root);
    assert.deepEqual(
      textBody.map((p) => p.partId),
      ['1.1'],
    );
    assert.deepEqual(
      htmlBody.map((p) => p.partId),
      ['1.2.1'],
    );
    assert.deepEqual(
      attachments.map((p) => [p.partId, p.name]),
      [
        ['1.2.2', 'logo.png'],
        ['2', 'Résumé.pdf'],
      ],
    );
    assert.equal(attachments[0]!.cid, 'logo@x');
    assert.equal(textBody[0]!.charset, 'utf-8');
    assert.equal(htmlBody[0]!.charset, 'us-ascii');
    assert.equal(root.partId, null);
    assert.equal(textBody[0]!.blobId, 'p-1.1');
  });

  it('cuts body values at a character boundary', () => {
    assert.deepEqual(bodyValue('ééé\r\n', 3), { value: 'é', isEncodingProblem: false, isTruncated: true });
    assert.deepEqual(bodyValue('a\r\nb', 100), { value: 'a\nb', isEncodingProblem: false, isTruncated: false });
    assert.equal(bodyValue(undefined, 10).isEncodingProblem, true);
  });
});
