// rspamd's "rewrite subject" applied to a message's bytes (filtering/subject-rewrite.ts): the
// sender's Subject fields (folded ones included) give way to one field with rspamd's text, encoded
// (RFC 2047) where it is not ASCII and folded; every other byte stays; hostile text is bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import libmime from 'libmime';
import { subjectField, withSubject } from '../../src/filtering/subject-rewrite.ts';

const rewrite = (message: string, subject: string) =>
  withSubject(Buffer.from(message, 'latin1'), subject)?.toString('latin1');

describe('rewriting the subject', () => {
  it('replaces a folded Subject in place and leaves the rest alone', () => {
    const message =
      'From: a@b.example\r\nSubject: old\r\n  and folded\r\nTo: c@d.example\r\n\r\nSubject: in the body\r\n';
    assert.equal(
      rewrite(message, '*** SPAM *** old and folded'),
      'From: a@b.example\r\nSubject: *** SPAM *** old and folded\r\nTo: c@d.example\r\n\r\nSubject: in the body\r\n',
    );
  });

  it('writes one Subject where there were two, and adds one where there was none', () => {
    assert.equal(rewrite('Subject: a\r\nX: 1\r\nsubject : b\r\n\r\nbody', 'new'), 'Subject: new\r\nX: 1\r\n\r\nbody');
    assert.equal(rewrite('From: a@b.example\r\n\r\nbody', 'new'), 'From: a@b.example\r\nSubject: new\r\n\r\nbody');
    assert.equal(rewrite('From: a@b.example', 'new'), 'From: a@b.example\r\nSubject: new\r\n');
    assert.equal(rewrite('\r\nbody', 'new'), 'Subject: new\r\n\r\nbody');
  });

  it('keeps 8-bit header bytes of other fields as they were', () => {
    const message = Buffer.concat([
      Buffer.from('X-Name: '),
      Buffer.from('Grüße', 'utf8'),
      Buffer.from('\r\nSubject: x\r\n\r\nb'),
    ]);
    const out = withSubject(message, 'y')!;
    assert.ok(out.includes(Buffer.from('Grüße', 'utf8')));
  });

  it('encodes non-ASCII text and folds long subjects within 78 characters', () => {
    const field = subjectField(`*** SPAM *** ${'Grüße aus Köln '.repeat(10)}`)!;
    assert.doesNotMatch(field, /[^\x00-\x7f]/);
    for (const line of field.split('\r\n').filter(Boolean)) assert.ok(line.length <= 78, line);
    const value = field.replace(/^Subject: /, '').replace(/\r\n/g, '');
    assert.equal(libmime.decodeWords(value), `*** SPAM *** ${'Grüße aus Köln '.repeat(10)}`.trim());
  });

  it('turns line breaks and controls into spaces, bounds the length, and writes nothing for an empty subject', () => {
    assert.equal(subjectField('a\r\nBcc: x@y.example\u0000'), 'Subject: a Bcc: x@y.example\r\n');
    const long = subjectField('x'.repeat(100_000))!;
    assert.ok(long.length < 600);
    assert.equal(subjectField(' \r\n\t'), undefined);
    assert.equal(withSubject(Buffer.from('Subject: a\r\n\r\nb'), ''), undefined);
  });
});
