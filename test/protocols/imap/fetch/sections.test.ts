// Body sections of FETCH (RFC 3501 §6.4.5, RFC 9051 §6.4.5) as byte ranges of a stored message (the
// prefix Holdfast added, then the blob): part numbers into nested multiparts and encapsulated messages,
// HEADER / TEXT / MIME / HEADER.FIELDS[.NOT], partial fetches, BINARY (RFC 3516), and the plan used to
// stream large messages, which must give the same bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SectionSpecifier } from '../../../../src/protocols/imap/parser/fetch-items.ts';
import {
  applyPartial,
  binaryBytes,
  sectionBytes,
  sectionPlan,
  selectHeaderFields,
  SectionError,
  type MessageContent,
} from '../../../../src/protocols/imap/fetch/sections.ts';
import { parsed, rfc3501Sample } from '../../../helpers/mime-samples.ts';

/** "4.2.HEADER" → { path: [4, 2], specifier: 'HEADER' }. */
function section(text: string, fields: string[] = []) {
  const match = /^((?:\d+\.)*\d+)?\.?(.*)$/.exec(text)!;
  return { path: match[1] ? match[1].split('.').map(Number) : [], specifier: match[2] as SectionSpecifier, fields };
}

const prefix = Buffer.from('Received: from client.example by holdfast\r\n');

function content(text: string): MessageContent {
  const { source, tree } = parsed(text);
  return { prefix, blob: source, tree };
}

const fetch = (message: MessageContent, text: string, fields: string[] = []) =>
  sectionBytes(message, section(text, fields))?.toString('latin1') ?? null;

describe("FETCH BODY[section] of RFC 3501's complex message", () => {
  const message = content(rfc3501Sample);
  const whole = Buffer.concat([prefix, message.blob]).toString('latin1');

  it('gives the whole message, prefix included, for BODY[]', () => {
    assert.equal(fetch(message, ''), whole);
  });

  it('gives the header with the prefix and the blank line for BODY[HEADER], the rest for BODY[TEXT]', () => {
    const header = fetch(message, 'HEADER')!;
    assert.ok(header.startsWith(prefix.toString()));
    assert.ok(header.endsWith('boundary="outer"\r\n\r\n'));
    assert.equal(header + fetch(message, 'TEXT'), whole);
  });

  it('gives each leaf part its body', () => {
    for (const number of ['1', '3.1', '3.2', '4.1', '4.2.1', '4.2.2.1', '4.2.2.2'])
      assert.equal(fetch(message, number), `Body ${number}`, number);
    assert.equal(fetch(message, '2'), 'Qm9keSAy', 'the body as sent, still encoded');
  });

  it('gives a message/rfc822 part the whole encapsulated message, and its HEADER and TEXT', () => {
    const three = fetch(message, '3')!;
    assert.ok(three.startsWith('From: Bob <bob@example.org>\r\n'));
    assert.ok(three.endsWith('--three--'));
    assert.equal(
      fetch(message, '3.HEADER'),
      'From: Bob <bob@example.org>\r\nSubject: Inner 3\r\nContent-Type: multipart/mixed; boundary="three"\r\n\r\n',
    );
    assert.equal(fetch(message, '3.HEADER')! + fetch(message, '3.TEXT'), three);
    assert.ok(fetch(message, '4.2.HEADER')!.startsWith('Subject: Inner 4.2\r\n'));
    assert.ok(fetch(message, '4.2.TEXT')!.startsWith('--fourtwo\r\n'));
  });

  it('never puts the prefix into the header of an encapsulated message', () => {
    for (const text of ['3.HEADER', '4.2.HEADER']) assert.ok(!fetch(message, text)!.includes('Received:'), text);
    assert.ok(!fetch(message, '3.HEADER.FIELDS', ['Received'])!.includes('Received:'));
  });

  it('gives a multipart part its body, delimiters and all', () => {
    const four = fetch(message, '4')!;
    assert.ok(four.startsWith('--four\r\n'));
    assert.ok(four.endsWith('--four--'));
    assert.ok(fetch(message, '4.2.2')!.startsWith('--fourtwotwo\r\n'));
  });

  it('gives the MIME header of a part for n.MIME, blank line included', () => {
    assert.equal(fetch(message, '1.MIME'), 'Content-Type: text/plain; charset=us-ascii\r\n\r\n');
    assert.equal(fetch(message, '3.MIME'), 'Content-Type: message/rfc822\r\nContent-Description: Part 3\r\n\r\n');
    assert.equal(fetch(message, '4.1.MIME'), 'Content-Type: image/gif\r\nContent-ID: <gif@example.org>\r\n\r\n');
    assert.equal(fetch(message, '4.2.2.MIME'), 'Content-Type: multipart/alternative; boundary="fourtwotwo"\r\n\r\n');
  });

  it('has no HEADER or TEXT for a part that is not message/rfc822 (empty, as Dovecot answers)', () => {
    for (const text of ['1.HEADER', '1.TEXT', '4.HEADER', '4.2.1.TEXT']) assert.ok(!fetch(message, text), text);
  });

  it('has nothing for a part number the message does not have', () => {
    for (const text of ['5', '4.3', '3.3', '4.2.3', '5.MIME', '5.HEADER']) assert.ok(!fetch(message, text), text);
  });
});

describe('FETCH BODY[section] of a message that is not multipart', () => {
  const message = content('Subject: s\nContent-Type: text/plain\n\nhello\n');

  it('numbers its body part 1 (RFC 9051: such messages have only a part 1)', () => {
    assert.equal(fetch(message, '1'), 'hello\r\n');
    assert.equal(fetch(message, 'TEXT'), 'hello\r\n');
    assert.ok(!fetch(message, '2'));
  });

  it('numbers the body of an encapsulated non-multipart message part n.1', () => {
    const outer = content(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--b--\n',
    );
    assert.equal(fetch(outer, '1.1'), 'inner body');
    assert.equal(fetch(outer, '1.TEXT'), 'inner body');
    assert.equal(fetch(outer, '1.HEADER'), 'Subject: inner\r\n\r\n');
  });

  it('gives a message without a blank line all as header and an empty text', () => {
    const headerOnly = content('Subject: only header');
    assert.equal(fetch(headerOnly, 'HEADER'), `${prefix}Subject: only header`);
    assert.equal(fetch(headerOnly, 'TEXT'), '');
  });
});

describe('HEADER.FIELDS and HEADER.FIELDS.NOT', () => {
  const header = Buffer.from(
    'Received: from a\r\n by b\r\nSubject: Hi\r\nSubject-Extra: no\r\nTO: x@example.org\r\nX-Lf: bare\nFrom: f@example.org\r\n\r\n',
  );
  const select = (fields: string[], exclude: boolean) => selectHeaderFields(header, fields, exclude).toString('latin1');

  it('keeps the named fields, matched without regard to case but otherwise exactly, folded lines and all', () => {
    assert.equal(select(['subject', 'RECEIVED'], false), 'Received: from a\r\n by b\r\nSubject: Hi\r\n\r\n');
    assert.equal(select(['to'], false), 'TO: x@example.org\r\n\r\n');
  });

  it('keeps every other field for .NOT, and writes each line with CRLF', () => {
    assert.equal(
      select(['Subject', 'To', 'Received'], true),
      'Subject-Extra: no\r\nX-Lf: bare\r\nFrom: f@example.org\r\n\r\n',
    );
  });

  it('still ends with the blank line when no field matches (RFC 3501: subsetting does not exclude it)', () => {
    assert.equal(select(['Nothing'], false), '\r\n');
  });

  it('finds the prefix fields in the message header, and each field of an encapsulated header', () => {
    const message = content(rfc3501Sample);
    assert.equal(fetch(message, 'HEADER.FIELDS', ['received', 'subject']), `${prefix}Subject: Complex\r\n\r\n`);
    assert.equal(fetch(message, '4.2.HEADER.FIELDS', ['Message-ID']), 'Message-ID: <inner42@example.org>\r\n\r\n');
    assert.ok(!fetch(message, 'HEADER.FIELDS.NOT', ['Received'])!.includes('Received'));
  });
});

describe('Partial fetches (<start.length>)', () => {
  const bytes = Buffer.from('0123456789');
  const partial = (start: number, length: number) => applyPartial(bytes, { start, length }).toString();

  it('cuts the octets asked for, fewer at the end, none past the end (RFC 3501 §6.4.5)', () => {
    assert.equal(partial(2, 3), '234');
    assert.equal(partial(8, 10), '89');
    assert.equal(partial(10, 5), '');
    assert.equal(partial(20, 1), '');
    assert.equal(applyPartial(bytes, undefined).toString(), '0123456789');
  });
});

describe('BINARY[section] (RFC 3516)', () => {
  const message = content(
    [
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=C3=A9 soft=',
      'break',
      '--b',
      'Content-Transfer-Encoding: x-uuencode',
      '',
      'begin 644 x',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: BASE64',
      '',
      'Qm9k',
      'eSAy',
      '--b',
      'Content-Type: multipart/alternative; boundary=c',
      '',
      '--c',
      '',
      'alt',
      '--c--',
      '--b--',
      '',
    ].join('\n'),
  );
  const binary = (text: string) => binaryBytes(message, section(text));

  it('undoes quoted-printable and base64 (any case of the encoding name)', () => {
    assert.equal(binary('1')!.toString('utf8'), 'café softbreak');
    assert.equal(binary('3')!.toString(), 'Body 2');
  });

  it('refuses an encoding it does not know with UNKNOWN-CTE', () => {
    assert.throws(
      () => binary('2'),
      (error: unknown) => error instanceof SectionError && error.code === 'UNKNOWN-CTE',
    );
  });

  it('refuses a multipart part with UNKNOWN-CTE', () => {
    assert.throws(
      () => binary('4'),
      (error: unknown) => error instanceof SectionError && error.code === 'UNKNOWN-CTE',
    );
  });

  it('gives the whole message for BINARY[] and nothing for a part that does not exist', () => {
    assert.deepEqual(binary(''), Buffer.concat([prefix, message.blob]));
    assert.ok(!binary('9')?.length);
  });
});

describe('Section plans for streamed messages', () => {
  const sections: [string, string[]][] = [
    ['', []],
    ['HEADER', []],
    ['TEXT', []],
    ['HEADER.FIELDS', ['Subject', 'Received']],
    ['HEADER.FIELDS.NOT', ['Subject']],
    ...['1', '2', '3', '3.1', '3.2', '4', '4.1', '4.2', '4.2.1', '4.2.2', '4.2.2.1', '4.2.2.2'].map(
      (n): [string, string[]] => [n, []],
    ),
    ...['1.MIME', '3.MIME', '4.2.2.MIME', '3.HEADER', '3.TEXT', '4.2.HEADER', '4.2.TEXT'].map(
      (n): [string, string[]] => [n, []],
    ),
    ['4.2.HEADER.FIELDS', ['message-id']],
    ['3.HEADER.FIELDS.NOT', ['from']],
    ['5', []],
    ['1.HEADER', []],
    ['4.3.MIME', []],
  ];

  it('names the same bytes as the section read whole, for every kind of section', () => {
    const message = content(rfc3501Sample);
    const whole = Buffer.concat([message.prefix, message.blob]);
    for (const [text, fields] of sections) {
      const wanted = sectionBytes(message, section(text, fields));
      const plan = sectionPlan(message.tree, message.prefix.length, section(text, fields));
      if (!wanted) {
        assert.equal(plan, null, text);
        continue;
      }
      assert.ok(plan, text);
      let planned: Buffer = whole.subarray(plan.start, plan.end);
      if (plan.kind === 'header' && plan.fields)
        planned = selectHeaderFields(planned, plan.fields.names, plan.fields.exclude);
      assert.equal(planned.toString('latin1'), wanted.toString('latin1'), text);
    }
  });
});
