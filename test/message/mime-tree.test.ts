// The MIME tree with offsets (RFC 2045 / RFC 2046), read the way IMAP numbers parts (RFC 3501 §6.4.5):
// part types and defaults, where each body starts and ends, nested multiparts and message/rfc822
// parts, and the leniency a mail reader needs for broken messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPart, parseHeaderLines, parseMimeTree, splitHeader, type MimePart } from '../../src/message/mime-tree.ts';
import { bodyOf, crlf, parsed, rfc3501Sample } from '../helpers/mime-samples.ts';

/** A parameter's value whichever way it is kept: decoded under its name, or RFC 2231-encoded as name* (charset'language'%XX). */
function rfc2231Value(params: Record<string, string>, name: string): string | undefined {
  if (params[name] !== undefined) return params[name];
  const encoded = params[`${name}*`];
  const match = encoded === undefined ? null : /^([^']*)'[^']*'(.*)$/.exec(encoded);
  if (!match) return undefined;
  return new TextDecoder(match[1] || 'us-ascii').decode(
    Buffer.from(
      match[2]!.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ),
  );
}

const typeOf = (part: { type: string; subtype: string } | undefined) => part && `${part.type}/${part.subtype}`;

describe('MIME tree: RFC 3501 example of a complex message', () => {
  const { source, tree } = parsed(rfc3501Sample);
  const expected: [string, string][] = [
    ['1', 'text/plain'],
    ['2', 'application/octet-stream'],
    ['3', 'message/rfc822'],
    ['3.1', 'text/plain'],
    ['3.2', 'application/octet-stream'],
    ['4', 'multipart/mixed'],
    ['4.1', 'image/gif'],
    ['4.2', 'message/rfc822'],
    ['4.2.1', 'text/plain'],
    ['4.2.2', 'multipart/alternative'],
    ['4.2.2.1', 'text/plain'],
    ['4.2.2.2', 'text/richtext'],
  ];

  it('numbers every part as RFC 3501 does, into encapsulated messages', () => {
    for (const [number, type] of expected)
      assert.equal(typeOf(findPart(tree, number.split('.').map(Number))), type, number);
  });

  it('gives each leaf exactly its body, without the CRLF that belongs to the next delimiter (RFC 2046 §5.1.1)', () => {
    for (const [number, type] of expected) {
      if (type.startsWith('multipart/') || type.startsWith('message/')) continue;
      const body = bodyOf(source, findPart(tree, number.split('.').map(Number)));
      assert.equal(body, number === '2' ? 'Qm9keSAy' : `Body ${number}`, number);
    }
  });

  it('keeps the preamble and the epilogue out of every part', () => {
    const leaves = expected.map(([number]) => bodyOf(source, findPart(tree, number.split('.').map(Number)))!);
    assert.ok(leaves.every((body) => !body.includes('preamble') && !body.includes('epilogue')));
    assert.equal(tree.children!.length, 4);
  });

  it('finds no part past the last one of a multipart', () => {
    for (const path of [[5], [4, 3], [3, 3], [4, 2, 2, 3], [0]])
      assert.equal(findPart(tree, path), undefined, path.join('.'));
  });

  it('reads the envelope of an encapsulated message, Sender and Reply-To defaulting to From', () => {
    const three = findPart(tree, [3])!;
    assert.equal(three.message?.envelope.subject, 'Inner 3');
    assert.deepEqual(three.message?.envelope.from, [['Bob', null, 'bob', 'example.org']]);
    assert.deepEqual(three.message?.envelope.sender, three.message?.envelope.from);
    assert.deepEqual(three.message?.envelope.replyTo, three.message?.envelope.from);
    assert.equal(findPart(tree, [4, 2])!.message?.envelope.messageId, '<inner42@example.org>');
    assert.equal(three.description, 'Part 3');
  });

  it('measures a message/rfc822 part over the whole encapsulated message (RFC 3501 body-type-msg)', () => {
    const three = findPart(tree, [3])!;
    const text = bodyOf(source, three)!;
    assert.ok(text.startsWith('From: Bob') && text.endsWith('--three--'));
    assert.equal(three.message?.root.headerStart, three.bodyStart);
    assert.equal(three.message?.root.end, three.end);
  });
});

describe('MIME tree: types and defaults (RFC 2045 §5.2, RFC 2046 §5.1)', () => {
  it('takes a part without Content-Type as text/plain; charset=us-ascii', () => {
    const { tree } = parsed('Subject: plain\n\nhello\n');
    assert.equal(typeOf(tree), 'text/plain');
    assert.deepEqual(tree.params, { charset: 'us-ascii' });
  });

  it('takes a body part that starts with a blank line as one without header fields', () => {
    const { source, tree } = parsed(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nSubject: not a header\n--b--\n',
    );
    assert.equal(typeOf(tree.children![0]), 'text/plain');
    assert.equal(bodyOf(source, tree.children![0]), 'Subject: not a header');
  });

  it('takes an untyped part of multipart/digest as message/rfc822 (RFC 2046 §5.1.5)', () => {
    const { tree } = parsed(
      'Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nplain\n--d--\n',
    );
    assert.deepEqual(tree.children!.map(typeOf), ['message/rfc822', 'text/plain']);
    assert.equal(tree.children![0]!.message?.envelope.subject, 'one');
  });

  it('reads names and values case-insensitively where MIME says they are, keeping values as written', () => {
    const { tree } = parsed(
      [
        'CONTENT-TYPE: Text/HTML; CHARSET="UTF-8"; Format=Flowed',
        'Content-Transfer-Encoding: Quoted-Printable',
        'Content-Disposition: Attachment; FileName="a b.html"',
        'Content-Language: en, de',
        'Content-ID: <x@example.org>',
        'Content-Description: A page',
        'Content-Location: http://example.org/a',
        'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
        '',
        'body',
      ].join('\n'),
    );
    assert.equal(typeOf(tree), 'text/html');
    assert.deepEqual(tree.params, { charset: 'UTF-8', format: 'Flowed' });
    assert.equal(tree.encoding, 'quoted-printable');
    assert.deepEqual(tree.disposition, { type: 'attachment', params: { filename: 'a b.html' } });
    assert.deepEqual(tree.language, ['en', 'de']);
    assert.equal(tree.id, '<x@example.org>');
    assert.equal(tree.description, 'A page');
    assert.equal(tree.location, 'http://example.org/a');
    assert.equal(tree.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  });

  it('joins RFC 2231 parameter continuations into one parameter (RFC 2231 §3)', () => {
    assert.deepEqual(
      parsed('Content-Type: application/octet-stream; name*0="long"; name*1="name.txt"\n\nx').tree.params,
      { name: 'longname.txt' },
    );
  });

  it('keeps an RFC 2231 charset parameter readable, decoded or as name* for the client to decode (RFC 2231 §4)', () => {
    assert.equal(
      rfc2231Value(
        parsed("Content-Type: application/octet-stream; name*=utf-8''na%C3%AFve.txt\n\nx").tree.params,
        'name',
      ),
      'naïve.txt',
    );
    const { disposition } = parsed(
      'Content-Disposition: attachment; filename*0*=utf-8\'\'na%C3%AF; filename*1="ve.txt"\n\nx',
    ).tree;
    assert.equal(disposition?.type, 'attachment');
    assert.equal(rfc2231Value(disposition!.params, 'filename'), 'naïve.txt');
    assert.equal(Object.keys(disposition!.params).length, 1, 'one parameter, its sections joined');
  });
});

describe('MIME tree: delimiters (RFC 2046 §5.1.1)', () => {
  it('takes only "--boundary" at the start of a line, with optional white space after, as a delimiter', () => {
    const { source, tree } = parsed(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nkeep\n--bb\n--b-x\n --b\n--b  \nContent-Type: text/html\n\nsecond\n--b--  \n',
    );
    assert.deepEqual(
      tree.children!.map((c) => bodyOf(source, c)),
      ['keep\r\n--bb\r\n--b-x\r\n --b', 'second'],
    );
    assert.equal(typeOf(tree.children![1]), 'text/html');
  });

  it('ends the last part at the end of the multipart when the close delimiter is missing', () => {
    const { source, tree } = parsed(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\nContent-Type: text/html\n\n<p>two</p>\n',
    );
    assert.deepEqual(
      tree.children!.map((c) => bodyOf(source, c)),
      ['one', '<p>two</p>\r\n'],
    );
  });

  it('ends a nested multipart at its parent part when its own close delimiter is missing', () => {
    const { source, tree } = parsed(
      'Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n\nfirst\n--outer\n\nsecond\n--outer--\n',
    );
    assert.equal(tree.children!.length, 2);
    assert.equal(bodyOf(source, findPart(tree, [1, 1])), 'first');
    assert.equal(bodyOf(source, findPart(tree, [2])), 'second');
  });

  it('reads messages with bare LF line ends too', () => {
    const source = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n');
    const tree = parseMimeTree(source);
    assert.deepEqual(
      tree.children!.map((c) => bodyOf(source, c)),
      ['one', 'two'],
    );
  });

  it('gives a multipart without any body part one text part, as IMAP needs at least one (RFC 9051 body-type-mpart)', () => {
    for (const body of ['--b--\n', 'no delimiter at all\n', '']) {
      const { tree } = parsed(`Content-Type: multipart/mixed; boundary=b\n\n${body}`);
      assert.deepEqual(tree.children!.map(typeOf), ['text/plain'], JSON.stringify(body));
    }
    const { source, tree } = parsed('Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b--\n');
    assert.deepEqual(
      tree.children!.map((c) => [typeOf(c), bodyOf(source, c), c.lines]),
      [['text/plain', '', 0]],
      'one empty part',
    );
  });

  it('gives the text part standing for a multipart without delimiters a line count that agrees with its body', () => {
    const { source, tree } = parsed('Content-Type: multipart/mixed; boundary=b\n\nno parts at all\n');
    const [only] = tree.children!;
    const body = bodyOf(source, only)!;
    assert.ok(body === '' ? only!.lines === 0 : only!.lines >= 1, `${JSON.stringify(body)} with ${only!.lines} lines`);
    assert.equal(only!.end - only!.bodyStart, body.length);
  });

  it('never leaves a multipart without parts when its boundary parameter is missing', () => {
    const { tree } = parsed('Content-Type: multipart/mixed\n\n--b\n\none\n');
    assert.ok(
      tree.type !== 'multipart' || (tree.children?.length ?? 0) >= 1,
      `${typeOf(tree)} with ${tree.children?.length ?? 'no'} children`,
    );
  });
});

describe('MIME tree: message/rfc822 and message/global parts', () => {
  it('parses the encapsulated message and numbers a non-multipart one as its part 1', () => {
    const { source, tree } = parsed(
      'Content-Type: message/rfc822\n\nSubject: inner\nFrom: a@b.example\n\nhello\nworld\n',
    );
    assert.equal(tree.message?.envelope.subject, 'inner');
    assert.equal(typeOf(tree.message?.root), 'text/plain');
    assert.equal(bodyOf(source, tree.message?.root), 'hello\r\nworld\r\n');
    assert.equal(tree.message?.root.lines, 2);
    assert.equal(tree.lines, 5);
  });

  it('treats message/global (RFC 6532) like message/rfc822', () => {
    const { tree } = parsed('Content-Type: message/global\n\nSubject: =?utf-8?q?caf=C3=A9?=\n\nhi\n');
    assert.equal(tree.message?.envelope.subject, '=?utf-8?q?caf=C3=A9?=', 'encoded words are left to the client');
    assert.equal(typeOf(tree.message?.root), 'text/plain');
  });
});

describe('MIME tree: line counts of text parts (RFC 3501 body-fld-lines)', () => {
  const linesOf = (body: string) => parsed(`Content-Type: text/plain\n\n${body}`).tree.lines;

  it('counts the lines of a body whose lines all end with CRLF', () => {
    assert.equal(linesOf(''), 0);
    assert.equal(linesOf('one\n'), 1);
    assert.equal(linesOf('one\ntwo\n'), 2);
    assert.equal(linesOf('one\n\nthree\n'), 3);
  });

  it('counts no lines for non-text leaves', () => {
    const { tree } = parsed(rfc3501Sample);
    assert.equal(findPart(tree, [2])!.lines, 0);
    assert.equal(findPart(tree, [4, 1])!.lines, 0);
  });
});

describe('MIME tree: headers', () => {
  it('unfolds header lines, lower-cases names and skips lines that are not fields', () => {
    assert.deepEqual(
      parseHeaderLines('Subject: a\r\n b\r\n\tc\r\nX-Bad Name: q\r\nnocolon\r\n: empty\r\nFrom:  me \r\n'),
      [
        ['subject', 'a b\tc'],
        ['from', 'me'],
      ],
    );
  });

  it('reads 8-bit header values as UTF-8 (RFC 6532)', () => {
    assert.deepEqual(parseHeaderLines(crlf('Subject: caf\xc3\xa9\n').toString('latin1')), [['subject', 'café']]);
  });

  it('splits the header from the body at the first blank line, or takes everything as header without one', () => {
    const withBody = 'Subject: x\r\n\r\nbody';
    assert.deepEqual(splitHeader(withBody, 0, withBody.length), { headerEnd: 12, bodyStart: 14 });
    const headerOnly = 'Subject: x';
    assert.deepEqual(splitHeader(headerOnly, 0, headerOnly.length), { headerEnd: 10, bodyStart: 10 });
    assert.deepEqual(splitHeader('\r\nbody', 0, 6), { headerEnd: 0, bodyStart: 2 });
  });
});

describe('MIME tree: bounds against hostile messages', () => {
  it('stops nesting multiparts at a fixed depth', () => {
    let text = '';
    for (let i = 0; i < 200; i++) text += `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n`;
    const { tree } = parsed(`${text}\nleaf\n`);
    let depth = 0;
    for (let part = tree; part.children; part = part.children[0]!) depth++;
    // 32 levels of multiparts; the last one's parts are beyond the limit, so it gets one empty stand-in part.
    assert.ok(depth > 0 && depth <= 33, `depth ${depth}`);
  });

  it('stops nesting encapsulated messages at a fixed depth', () => {
    const text = `${'Content-Type: message/rfc822\n\n'.repeat(200)}Subject: bottom\n\nleaf\n`;
    const { tree } = parsed(text);
    let depth = 0;
    for (let part = tree; part.message; part = part.message.root) depth++;
    assert.ok(depth > 0 && depth <= 32, `depth ${depth}`);
  });

  it('bounds the number of parts of one multipart, leaving out those past the bound', () => {
    const { source, tree } = parsed(`Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(5000)}--b--\n`);
    assert.ok(tree.children!.length <= 2000, `${tree.children!.length} parts`);
    const last = tree.children!.length;
    assert.equal(bodyOf(source, findPart(tree, [last])), 'x', 'the last part kept ends at its delimiter');
    assert.equal(findPart(tree, [last + 1]), undefined, 'a part past the bound does not exist');
    assert.equal(tree.end, source.length, 'the multipart keeps its whole body');
  });

  it('bounds the number of parts over the whole message, nested ones included', () => {
    const inner = `Content-Type: multipart/mixed; boundary=i\n\n${'--i\n\ny\n'.repeat(1500)}--i--`;
    const { tree } = parsed(
      `Content-Type: multipart/mixed; boundary=o\n\n--o\n${inner}\n${'--o\n\nx\n'.repeat(1500)}--o--\n`,
    );
    let count = 0;
    const walk = (part: MimePart) => {
      count++;
      part.children?.forEach(walk);
    };
    walk(tree);
    assert.ok(count <= 2000, `${count} parts`);
    assert.equal(tree.children![0]!.children!.length, 1500, 'the first parts are all kept');
  });
});
