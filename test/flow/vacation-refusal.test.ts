// The rules that keep automatic replies (the JMAP response and Sieve's vacation) away from mail that
// must not be answered (RFC 3834, RFC 5230 4.5), checked on header lines as delivery reads them:
// Holdfast's own lines first (the prefix), then the message's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refusal } from '../../src/flow/vacation-responder.ts';
import { parseHeaderLines } from '../../src/message/mime-tree.ts';

const alice = new Set(['alice@test.example']);
const why = (sender: string, header: string) => refusal(sender, parseHeaderLines(header), alice);

describe('which mail an automatic reply answers', () => {
  it('answers a person who wrote to the user', () => {
    assert.equal(why('carol@remote.example', 'From: carol@remote.example\r\nTo: alice@test.example'), undefined);
  });

  it('does not answer mail the spam filter filed as junk', () => {
    assert.equal(
      why('carol@remote.example', 'X-Spam-Flag: YES\r\nFrom: carol@remote.example\r\nTo: alice@test.example'),
      'filed as junk',
    );
    assert.equal(
      why('carol@remote.example', 'X-Spam-Flag: NO\r\nTo: alice@test.example'),
      undefined,
      'a message the filter let through is answered',
    );
  });

  it('does not answer the null sender, lists, bulk or automatic mail, nor Bcc', () => {
    assert.equal(why('', 'To: alice@test.example'), 'null sender');
    assert.equal(why('news@remote.example', 'Precedence: bulk\r\nTo: alice@test.example'), 'bulk or list mail');
    assert.equal(
      why('robot@remote.example', 'Auto-Submitted: auto-generated\r\nTo: alice@test.example'),
      'automatic mail',
    );
    assert.equal(why('blind@remote.example', 'To: someone@remote.example'), 'user not in To or Cc');
  });
});
