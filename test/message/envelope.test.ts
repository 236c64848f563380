// ENVELOPE address lists (RFC 3501 §7.4.2): a group opens with (NIL NIL "name" NIL) and closes with
// (NIL NIL NIL NIL), exactly once each; an address is never written with a NIL host, which would read
// as a group. Broken addresses read as Dovecot reads them, placeholders for missing parts included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvelope } from '../../src/message/envelope.ts';

const to = (value: string) => parseEnvelope([['to', value]]).to;

describe('ENVELOPE address lists', () => {
  it('marks groups exactly', () => {
    assert.deepEqual(to('undisclosed-recipients:;'), [
      [null, null, 'undisclosed-recipients', null],
      [null, null, null, null],
    ]);
    assert.deepEqual(to('Team: a@b.example, "Bee" <b@c.example>;, e@f.example'), [
      [null, null, 'Team', null],
      [null, null, 'a', 'b.example'],
      ['Bee', null, 'b', 'c.example'],
      [null, null, null, null],
      [null, null, 'e', 'f.example'],
    ]);
    assert.deepEqual(
      to('G: <>;'),
      [
        [null, null, 'G', null],
        [null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'],
        [null, null, null, null],
      ],
      'an empty member is an address without mailbox and domain',
    );
  });

  it('never writes an address with a NIL host', () => {
    assert.deepEqual(to('a@b.example, localpart'), [
      [null, null, 'a', 'b.example'],
      [null, null, 'localpart', 'MISSING_DOMAIN'],
    ]);
    assert.deepEqual(to('Group: "Bob";'), [
      [null, null, 'Group', null],
      ['Bob', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'],
      [null, null, null, null],
    ]);
    assert.deepEqual(to('no-domain, @x.example, <>'), [
      [null, null, 'no-domain', 'MISSING_DOMAIN'],
      [null, null, 'MISSING_MAILBOX', 'x.example'],
      [null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'],
    ]);
    assert.deepEqual(
      to('John Smith'),
      [['John Smith', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']],
      'words without an address are a name',
    );
    assert.deepEqual(to('Name <u@h'), [['Name', null, 'u', 'SYNTAX_ERROR']]);
  });

  it('takes a comment after a bare address as its name, never one before it or after <...>', () => {
    assert.deepEqual(to('(comment) b@x.example'), [[null, null, 'b', 'x.example']]);
    assert.deepEqual(to('b@x.example (Bee)'), [['Bee', null, 'b', 'x.example']]);
    assert.deepEqual(to('"Last, First" <first.last@x.example> (a comment)'), [
      ['Last, First', null, 'first.last', 'x.example'],
    ]);
  });

  it('keeps encoded words, routes and quoted parts as written', () => {
    assert.deepEqual(to('=?utf-8?q?Unquoted_=E2=82=AC?= <u@x.example>, "=?utf-8?q?in?=" <q@x.example>'), [
      ['=?utf-8?q?Unquoted_=E2=82=AC?=', null, 'u', 'x.example'],
      ['=?utf-8?q?in?=', null, 'q', 'x.example'],
    ]);
    assert.deepEqual(to('<@r1,@r2:u@h>'), [[null, '@r1,@r2', 'u', 'h']]);
    assert.deepEqual(to('"Quoted \\"name\\"" <"quoted local"@x.example>'), [
      ['Quoted "name"', null, 'quoted local', 'x.example'],
    ]);
  });

  it('reads a field given twice as Dovecot: the last Subject, the addresses of every From', () => {
    const envelope = parseEnvelope([
      ['subject', 'first'],
      ['from', 'a@x.example'],
      ['subject', 'second'],
      ['from', 'b@x.example'],
    ]);
    assert.equal(envelope.subject, 'second');
    assert.deepEqual(envelope.from, [
      [null, null, 'a', 'x.example'],
      [null, null, 'b', 'x.example'],
    ]);
    assert.deepEqual(envelope.sender, envelope.from);
  });
});
