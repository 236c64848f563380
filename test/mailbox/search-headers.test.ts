import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anyFieldContains, fieldContains, toSearchHeaders } from '../../src/mailbox/search-headers.ts';

const headers = toSearchHeaders(
  [
    ['from', 'Alice Example <alice@example.com>'],
    ['subject', 'Quarterly Planning'],
    ['received', 'from mx.example.net by holdfast'],
    ['received', 'from relay.example.org'],
  ],
  null,
);

describe('SEARCH header matching', () => {
  it('looks into the named field only, ignoring case', () => {
    assert.equal(fieldContains('subject', 'PLANNING')(headers), true);
    assert.equal(fieldContains('subject', 'alice')(headers), false);
    assert.equal(fieldContains('from', 'alice@')(headers), true);
  });

  it('looks into every value of a repeated field', () => {
    assert.equal(fieldContains('received', 'relay.example')(headers), true);
    assert.equal(fieldContains('received', 'mx.example')(headers), true);
  });

  it('never matches across the end of a value or a field name', () => {
    assert.equal(fieldContains('subject', 'planningreceived')(headers), false);
    assert.equal(fieldContains('from', 'subject')(headers), false);
    assert.equal(anyFieldContains('planningreceived')(headers), false);
    assert.equal(anyFieldContains('holdfast')(headers), true);
  });

  it('lets TEXT find a field name too, as Dovecot does (the header holds names and values)', () => {
    assert.equal(anyFieldContains('subject')(headers), true);
  });

  it('matches an empty string in any field the message has, and none it lacks', () => {
    assert.equal(fieldContains('subject', '')(headers), true);
    assert.equal(fieldContains('cc', '')(headers), false);
    assert.equal(fieldContains('subject', 'x')(undefined), false);
  });
});
