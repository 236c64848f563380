// Content-Type and Content-Disposition parameters (RFC 2045 §5.1, RFC 2231) as BODYSTRUCTURE shows
// them: comments skipped, RFC 2231 sections joined as Dovecot joins them, charset-encoded values kept
// encoded (decodeExtendedValue gives their text).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeExtendedValue, paramValue, parseContentField } from '../../src/message/mime-params.ts';

describe('MIME parameters', () => {
  it('reads the type and parameters, lower-casing names, unquoting values and skipping comments', () => {
    assert.deepEqual(parseContentField('TEXT/X-Custom; CHARSET="UTF-8"; format=flowed (a comment); q="a\\"b"', true), {
      value: 'text/x-custom',
      params: { charset: 'UTF-8', format: 'flowed', q: 'a"b' },
    });
    assert.deepEqual(parseContentField('attachment; filename="a b.bin"; broken; size=3', false), {
      value: 'attachment',
      params: { filename: 'a b.bin', size: '3' },
    });
    assert.deepEqual(parseContentField('text', true), { value: '', params: {} }, 'a type without subtype is no type');
  });

  it('joins RFC 2231 sections, keeping charset-encoded ones encoded under name*', () => {
    assert.deepEqual(parseContentField('a/b; name*0="long"; name*1="name.txt"', true).params, { name: 'longname.txt' });
    assert.deepEqual(
      parseContentField('a/b; title*0*=us-ascii\'en\'This%20is%20; title*1*=%2A%2Afun%2A%2A; title*2=" 100%"', true)
        .params,
      {
        'title*': "us-ascii'en'This%20is%20%2A%2Afun%2A%2A 100%25",
      },
    );
    assert.deepEqual(parseContentField("a/b; name*=UTF-8''%E2%82%AC.bin", true).params, {
      'name*': "UTF-8''%E2%82%AC.bin",
    });
    assert.deepEqual(
      parseContentField('a/b; x*1=gap; x*2=more', true).params,
      { 'x*1': 'gap', 'x*2': 'more' },
      'a missing section leaves them apart',
    );
  });

  it('decodes an encoded value when its charset is known and its text has no control characters', () => {
    assert.equal(decodeExtendedValue("UTF-8''%E2%82%AC.bin"), '€.bin');
    assert.equal(decodeExtendedValue("iso-8859-1'fr'%E9t%E9"), 'été');
    assert.equal(decodeExtendedValue("x-unknown''%FF"), undefined);
    assert.equal(decodeExtendedValue("utf-8''%FF"), undefined);
    assert.equal(decodeExtendedValue("utf-8''a%00b"), undefined);
    assert.equal(paramValue({ 'charset*': "us-ascii''utf-8" }, 'charset'), 'utf-8');
  });
});
