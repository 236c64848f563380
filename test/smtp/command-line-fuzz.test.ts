// The SMTP wire's pure parts alone: the command-line parser fed random and mutated lines must never
// throw and must answer every line with a command or a well-formed refusal; the DATA decoder must
// give the same content however the bytes are cut into chunks, and find the end only at CRLF.CRLF.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSyntaxError, parseCommand } from '../../src/protocols/smtp/command-line.ts';
import { DotDecoder } from '../../src/protocols/smtp/dot-data.ts';
import { decodeLoginResponse, decodePlain } from '../../src/protocols/smtp/sasl.ts';
import { formatReply } from '../../src/protocols/smtp/smtp-reply.ts';
import { mutate, random } from '../helpers/fuzz.ts';

const seeds = [
  'EHLO client.example',
  'HELO [192.0.2.1]',
  'MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc+2Bdef AUTH=<>',
  'MAIL FROM:<>',
  'MAIL FROM:<@relay.example,@other.example:bob@xn--mnchen-3ya.de>',
  'RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com',
  'RCPT TO:<Postmaster>',
  'RCPT TO:<carol@[IPv6:2001:db8::1]>',
  'BDAT 1000 LAST',
  'AUTH PLAIN AGFsaWNlAHNlY3JldA==',
  'AUTH LOGIN',
  'DATA',
  'STARTTLS',
  'VRFY bob',
  'GET / HTTP/1.1',
];

const alphabet =
  ' :<>@[]=+,;.-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\r\n\t\0\x7f\u00e9\u200b\uffff';

describe('SMTP command-line parser (fuzzed)', () => {
  it('parses the seeds', () => {
    for (const seed of seeds) assert.ok(!isSyntaxError(parseCommand(seed)), seed);
    assert.deepEqual(parseCommand(seeds[2]!), {
      verb: 'MAIL',
      address: 'alice@example.com',
      params: { size: 1000, body: '8BITMIME', smtpUtf8: true, ret: 'HDRS', envid: 'abc+def' },
    });
    assert.deepEqual(parseCommand(seeds[4]!), { verb: 'MAIL', address: 'bob@münchen.de', params: { smtpUtf8: false } });
    assert.deepEqual(parseCommand(seeds[5]!), {
      verb: 'RCPT',
      address: 'bob@example.com',
      params: { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;bob@example.com' },
    });
    assert.deepEqual(parseCommand('bdat 0 last'), { verb: 'BDAT', size: 0, last: true });
  });

  it('refuses what is not valid, with the reply that says why', () => {
    const refusal = (line: string) => {
      const parsed = parseCommand(line);
      assert.ok(isSyntaxError(parsed), line);
      return formatReply(parsed.refusal).trimEnd();
    };
    assert.equal(refusal('MAIL FROM:alice@example.com'), '501 5.1.7 Error: Bad sender address syntax');
    assert.equal(refusal('MAIL FROM:<a@b.example> SIZE=1 SIZE=2'), '501 5.5.4 Error: duplicate SIZE parameter');
    assert.equal(refusal('MAIL FROM:<a@b.example> SIZE=big'), '501 5.5.4 Error: Bad message size syntax');
    assert.equal(refusal('MAIL FROM:<a@b.example> XFOO=1'), '555 5.5.4 Error: unsupported parameter XFOO');
    assert.equal(
      refusal('MAIL FROM:<a@b.example> ENVID=a+0D+0Ab'),
      '501 5.1.7 Error: Bad sender address syntax',
      'a CRLF smuggled in xtext',
    );
    assert.equal(refusal('RCPT TO:<>'), '501 5.1.3 Error: Bad recipient address syntax');
    assert.equal(refusal('RCPT TO:<a..b@example.com>'), '501 5.1.3 Error: Bad recipient address syntax');
    assert.equal(
      refusal('RCPT TO:<a@example.com> NOTIFY=NEVER,DELAY'),
      '501 5.5.4 Error: NOTIFY=NEVER cannot be combined with other values',
    );
    assert.equal(refusal('EHLO'), '501 Error: syntax: EHLO hostname');
    assert.equal(
      refusal('BDAT 12x'),
      '501 5.5.4 Syntax: BDAT <size> [LAST]; closing the connection, the chunk cannot be skipped',
    );
    assert.equal(parseCommand('POST /wp-login HTTP/1.0').verb, 'HTTP');
    assert.deepEqual(parseCommand('WIZ magic'), { verb: 'UNKNOWN', name: 'WIZ' });
  });

  it('answers 20,000 random and mutated lines without throwing, every refusal a single well-formed reply', () => {
    const rand = random(20261206);
    for (let i = 0; i < 20_000; i++) {
      const seed = seeds[Math.floor(rand() * seeds.length)]!;
      const line =
        rand() < 0.1
          ? Array.from({ length: Math.floor(rand() * 80) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(
              '',
            )
          : mutate(seed, rand, alphabet);
      const parsed = parseCommand(line);
      if (isSyntaxError(parsed)) {
        const text = formatReply(parsed.refusal);
        assert.match(text, /^[45]\d\d [^\r\n]*\r\n$/, JSON.stringify(line));
      } else if (parsed.verb === 'MAIL' || parsed.verb === 'RCPT') {
        assert.doesNotMatch(parsed.address, /[\x00-\x1f\x7f<>]/, JSON.stringify(line));
      } else if (parsed.verb === 'BDAT') {
        assert.ok(Number.isSafeInteger(parsed.size) && parsed.size >= 0);
      }
    }
  });

  it('decodes SASL PLAIN and LOGIN responses, refusing bad base64 and a second identity', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    assert.deepEqual(decodePlain(b64('\0alice@example.com\0secret')), {
      username: 'alice@example.com',
      password: 'secret',
    });
    assert.deepEqual(decodePlain(b64('alice@example.com\0\0secret')), {
      username: 'alice@example.com',
      password: 'secret',
    });
    assert.equal(decodePlain(b64('bob@example.com\0alice@example.com\0secret')), 'mismatch');
    assert.deepEqual(decodePlain('not base64!'), {
      refusal: { enhanced: '5.5.2', text: 'Error: cannot decode the response as base64' },
    });
    assert.deepEqual(decodePlain(b64('only\0two')), {
      refusal: { enhanced: '5.5.4', text: 'Error: invalid userdata' },
    });
    assert.equal(decodeLoginResponse(b64('alice'), 'username'), 'alice');
    assert.deepEqual(decodeLoginResponse(b64('al\r\nice'), 'username'), {
      refusal: { enhanced: '5.5.4', text: 'Error: invalid userdata' },
    });
  });
});

/** Decodes `input` fed in the given chunk sizes; the content and what followed the end. */
function decode(input: Buffer, cuts: number[]): { content: string; rest: string; done: boolean } {
  const decoder = new DotDecoder();
  const content: Buffer[] = [];
  let rest = Buffer.alloc(0);
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    if (at >= input.length) break;
    const chunk = input.subarray(at, Math.min(input.length, at + Math.max(1, cut)));
    at += chunk.length;
    if (decoder.done) {
      rest = Buffer.concat([rest, chunk]);
      continue;
    }
    const out = decoder.feed(chunk);
    content.push(...out.content);
    if (out.rest) rest = Buffer.concat([rest, out.rest]);
  }
  return { content: Buffer.concat(content).toString('latin1'), rest: rest.toString('latin1'), done: decoder.done };
}

describe('DATA decoding (dot-unstuffing and the end of data)', () => {
  const cases: [input: string, content: string, rest: string][] = [
    ['.\r\n', '', ''],
    ['Hello\r\n.\r\nQUIT\r\n', 'Hello\r\n', 'QUIT\r\n'],
    ['..leading\r\n...two\r\n.\r\n', '.leading\r\n..two\r\n', ''],
    ['a\r\n..\r\n.\r\n', 'a\r\n.\r\n', ''],
    ['bare\nlf\r\n.\r\n', 'bare\r\nlf\r\n', ''],
    // SMTP smuggling: none of these ends the data.
    ['a\n.\nMAIL FROM:<x@y>\r\n.\r\n', 'a\r\n.\r\nMAIL FROM:<x@y>\r\n', ''],
    ['a\r\n.\nRSET\r\n.\r\n', 'a\r\n.\r\nRSET\r\n', ''],
    ['a\n.\r\nRSET\r\n.\r\n', 'a\r\n.\r\nRSET\r\n', ''],
    ['a\r.\r\nRSET\r\n.\r\n', 'a\r.\r\nRSET\r\n', ''],
    ['a\r\n.\rRSET\r\n.\r\n', 'a\r\n\rRSET\r\n', ''],
    ['cr\r\r\n.\r\n', 'cr\r\r\n', ''],
  ];

  it('decodes each case the same whatever the chunking', () => {
    const rand = random(7);
    for (const [input, content, rest] of cases) {
      const bytes = Buffer.from(input, 'latin1');
      const whole = decode(bytes, []);
      assert.deepEqual(whole, { content, rest, done: true }, JSON.stringify(input));
      for (let round = 0; round < 200; round++) {
        const cuts = Array.from({ length: bytes.length }, () => 1 + Math.floor(rand() * 4));
        assert.deepEqual(decode(bytes, cuts), whole, `${JSON.stringify(input)} cut ${cuts.join(',')}`);
      }
    }
  });

  it('gives the same result for random content under any chunking, never ending before CRLF.CRLF', () => {
    const rand = random(99);
    const pieces = ['.', '..', '\r\n', '\n', '\r', 'x', 'MAIL FROM:<a@b>', '\r\n.\r'];
    for (let round = 0; round < 2000; round++) {
      const body = Array.from(
        { length: Math.floor(rand() * 30) },
        () => pieces[Math.floor(rand() * pieces.length)],
      ).join('');
      const input = Buffer.from(`${body}\r\n.\r\nNOOP\r\n`, 'latin1');
      const whole = decode(input, []);
      assert.ok(whole.done);
      const cuts = Array.from({ length: input.length }, () => 1 + Math.floor(rand() * 6));
      assert.deepEqual(decode(input, cuts), whole, JSON.stringify(body));
      // Whatever ended the data was a CRLF "." CRLF in the input, and all content lines end in CRLF.
      const consumed = input.length - Buffer.byteLength(whole.rest, 'latin1');
      assert.equal(input.subarray(consumed - 3, consumed).toString('latin1'), '.\r\n');
      assert.ok(consumed === 3 || input.subarray(consumed - 5, consumed - 3).toString('latin1') === '\r\n');
      assert.doesNotMatch(whole.content.replace(/\r\n/g, ''), /\n/, 'no bare LF is left');
    }
  });
});
