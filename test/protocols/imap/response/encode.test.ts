// Encoding IMAP response data (RFC 3501 §4, RFC 9051 §4): NIL, numbers, atoms, quoted strings and
// literals, lists, the multipart BODYSTRUCTURE form, and date-time values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  atom,
  BinaryContent,
  encode,
  formatDateTime,
  Multipart,
  parseDateTime,
  StreamedLiteral,
  type Value,
} from '../../../../src/protocols/imap/response/encode.ts';

/** The encoded bytes as text, a streamed literal shown as <stream n>. */
function wire(value: Value, utf8 = false): string {
  return encode(value, { utf8 })
    .map((piece) => (Buffer.isBuffer(piece) ? piece.toString('utf8') : `<stream ${piece.length}>`))
    .join('');
}

describe('IMAP response encoding: strings', () => {
  it('quotes plain text, escaping only " and \\ (RFC 9051 quoted-specials)', () => {
    assert.equal(wire('Hello world'), '"Hello world"');
    assert.equal(wire('say "hi" C:\\dir'), '"say \\"hi\\" C:\\\\dir"');
    assert.equal(wire('tab\there'), '"tab\there"');
    assert.equal(wire(''), '""');
  });

  it('sends text with CR or LF as a literal, counting octets', () => {
    assert.equal(wire('line\r\nbreak'), '{11}\r\nline\r\nbreak');
    assert.equal(wire('bare\n'), '{5}\r\nbare\n');
    assert.equal(wire('cr\r'), '{3}\r\ncr\r');
  });

  it('sends 8-bit text as a literal unless the client enabled UTF-8 (RFC 9051 §4.3, RFC 6855)', () => {
    assert.equal(wire('café'), '{5}\r\ncafé');
    assert.equal(wire('café', true), '"café"');
    assert.equal(wire('日本', true), '"日本"');
    assert.equal(wire('é\n', true), '{3}\r\né\n', 'a literal still, for the line break, with its length in octets');
  });

  it('sends long text as a literal', () => {
    const long = 'x'.repeat(4000);
    assert.equal(wire(long), `{4000}\r\n${long}`);
  });

  it('sends buffers as literals whatever they hold', () => {
    assert.equal(wire(Buffer.from('plain')), '{5}\r\nplain');
    assert.equal(wire(Buffer.alloc(0)), '{0}\r\n');
  });

  it('keeps the literal bytes apart from the text around them', () => {
    const pieces = encode(['a', 'two\r\nlines', 'b'], { utf8: false }) as Buffer[];
    assert.deepEqual(
      pieces.map((p) => p.toString()),
      ['("a" {10}\r\n', 'two\r\nlines', ' "b")'],
    );
  });

  it('never sends NUL in a literal or quoted string, but U+FFFD in its place as Dovecot (RFC 9051 §4.3: CHAR8 excludes %x00)', () => {
    for (const utf8 of [false, true]) {
      const bytes = Buffer.concat(encode(['nul\0inside'], { utf8 }) as Buffer[]);
      assert.ok(!bytes.includes(0), `utf8=${utf8}: ${JSON.stringify(bytes.toString())}`);
    }
    assert.equal(wire('nul\0inside', true), '"nul\uFFFDinside"');
    assert.equal(wire('nul\0inside'), '{12}\r\nnul\uFFFDinside', '8-bit now: a literal to a client without UTF-8');
    assert.equal(wire('two\0\0'), '{9}\r\ntwo\uFFFD\uFFFD');
  });
});

describe('IMAP response encoding: other values', () => {
  it('writes NIL for null, numbers in decimal and atoms as they are', () => {
    assert.equal(wire(null), 'NIL');
    assert.equal(wire(0), '0');
    assert.equal(wire(4294967295), '4294967295');
    assert.equal(wire(atom('\\Seen')), '\\Seen');
    assert.equal(wire('NIL'), '"NIL"', 'the string NIL is not NIL');
  });

  it('writes lists in parentheses, space-separated, nested and empty', () => {
    assert.equal(wire([atom('\\Seen'), atom('\\Answered')]), '(\\Seen \\Answered)');
    assert.equal(wire([]), '()');
    assert.equal(wire([[], [null, [1, 'a']]]), '(() (NIL (1 "a")))');
  });

  it('writes a multipart body as its parts back to back, then the rest (RFC 9051 body-type-mpart)', () => {
    const value = new Multipart(
      [
        ['TEXT', 'PLAIN'],
        ['TEXT', 'HTML'],
      ],
      ['ALTERNATIVE', ['BOUNDARY', 'x'], null],
    );
    assert.equal(wire(value), '(("TEXT" "PLAIN")("TEXT" "HTML") "ALTERNATIVE" ("BOUNDARY" "x") NIL)');
  });

  it('announces a streamed literal with its length and streams its chunks in place, NUL as 0x80', async () => {
    const stream = new StreamedLiteral(8, async function* () {
      yield Buffer.from('stre');
      yield Buffer.from('am\0s');
    });
    const pieces = encode(['BODY[]', stream, 'after'], { utf8: false });
    assert.equal(pieces.length, 3);
    assert.equal((pieces[0] as Buffer).toString(), '("BODY[]" {8}\r\n');
    const streamed = pieces[1] as StreamedLiteral;
    assert.equal(streamed.length, 8);
    const chunks: Buffer[] = [];
    for await (const chunk of streamed.chunks()) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from('stream\x80s', 'latin1'));
    assert.equal((pieces[2] as Buffer).toString(), ' "after")');
  });

  it('sends content with NUL as 0x80 in a literal, and BINARY content with NUL as a literal8 (RFC 3516)', () => {
    const joined = (value: Value) => Buffer.concat(encode(value, { utf8: false }) as Buffer[]).toString('latin1');
    assert.equal(joined(Buffer.from('a\0b', 'latin1')), '{3}\r\na\x80b');
    assert.equal(joined(new BinaryContent(Buffer.from('a\0b', 'latin1'))), '~{3}\r\na\0b');
    assert.equal(joined(new BinaryContent(Buffer.from('ab'))), '{2}\r\nab');
  });
});

describe('IMAP date-time', () => {
  it('writes date-time in UTC with two-digit day (RFC 9051 date-time)', () => {
    assert.equal(formatDateTime(Date.UTC(1996, 6, 17, 2, 44, 25)), '17-Jul-1996 02:44:25 +0000');
    assert.equal(formatDateTime(Date.UTC(2026, 0, 5, 9, 5, 7)), '05-Jan-2026 09:05:07 +0000');
  });

  it('reads date-time with its zone, a space-padded day and any case of month', () => {
    const instant = Date.UTC(1996, 6, 17, 9, 44, 25);
    assert.equal(parseDateTime('17-Jul-1996 02:44:25 -0700'), instant);
    assert.equal(parseDateTime('17-jul-1996 11:44:25 +0200'), instant);
    assert.equal(parseDateTime(' 7-Jul-1996 02:44:25 +0000'), Date.UTC(1996, 6, 7, 2, 44, 25));
    assert.equal(parseDateTime(formatDateTime(instant)), instant);
  });

  it('refuses text that is not a date-time', () => {
    for (const text of [
      '17-Foo-1996 02:44:25 +0000',
      '17-Jul-1996 02:44:25',
      '17-Jul-96 02:44:25 +0000',
      'yesterday',
      '',
    ])
      assert.equal(parseDateTime(text), undefined, text);
  });

  it('refuses dates and times that do not exist rather than carry them into the next day or month', () => {
    for (const text of [
      '31-Feb-2020 00:00:00 +0000',
      '29-Feb-2021 00:00:00 +0000',
      '31-Apr-2020 00:00:00 +0000',
      '00-Jul-1996 00:00:00 +0000',
      '32-Jul-1996 00:00:00 +0000',
      '17-Jul-1996 25:61:61 +0000',
      '17-Jul-1996 24:00:00 +0000',
      '17-Jul-1996 23:60:00 +0000',
      '17-Jul-1996 23:59:61 +0000',
    ]) {
      assert.equal(parseDateTime(text), undefined, text);
    }
  });

  it('reads the last day of each month, 29 February of leap years, and a leap second as second 59 (as Dovecot)', () => {
    assert.equal(parseDateTime('29-Feb-2024 23:59:59 +0000'), Date.UTC(2024, 1, 29, 23, 59, 59));
    assert.equal(parseDateTime('29-Feb-2000 00:00:00 +0000'), Date.UTC(2000, 1, 29));
    assert.equal(parseDateTime('31-Dec-1999 23:59:59 +0000'), Date.UTC(1999, 11, 31, 23, 59, 59));
    assert.equal(parseDateTime('30-Apr-2020 00:00:00 +0000'), Date.UTC(2020, 3, 30));
    assert.equal(parseDateTime('31-Dec-2016 23:59:60 +0000'), Date.UTC(2016, 11, 31, 23, 59, 59));
  });
});
