// ENVELOPE address lists (RFC 3501 §7.4.2): a group opens with (NIL NIL "name" NIL) and closes with
// (NIL NIL NIL NIL), exactly once each; an address is never written with a NIL host, which would read
// as a group. Placeholders for missing parts are Dovecot's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvelope } from '../../src/message/envelope.ts';

const to = (value: string) => parseEnvelope([['to', value]]).to;

describe('ENVELOPE address lists', () => {
  it('marks groups exactly', () => {
    assert.deepEqual(to('undisclosed-recipients:;'), [[null, null, 'undisclosed-recipients', null], [null, null, null, null]]);
    assert.deepEqual(to('Team: a@b.example, "Bee" <b@c.example>;, e@f.example'), [
      [null, null, 'Team', null],
      [null, null, 'a', 'b.example'],
      ['Bee', null, 'b', 'c.example'],
      [null, null, null, null],
      [null, null, 'e', 'f.example'],
    ]);
    assert.deepEqual(to('G: <>;'), [[null, null, 'G', null], [null, null, null, null]], 'an empty member adds nothing');
  });

  it('never writes an address with a NIL host', () => {
    assert.deepEqual(to('a@b.example, localpart'), [[null, null, 'a', 'b.example'], ['localpart', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']]);
    assert.deepEqual(to('Group: "Bob";'), [[null, null, 'Group', null], ['Bob', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'], [null, null, null, null]]);
  });
});
