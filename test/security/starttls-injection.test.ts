// STARTTLS command injection (issue 15 item 7; the lesson of RFC 3207 §4.2 and RFC 2595 §3.1):
// commands a man in the middle pipelines in plain text behind STARTTLS / STLS, in the same packet,
// must be dropped at the switch, never run inside the TLS session the victim then opens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';

describe('STARTTLS drops what was pipelined behind it', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode('sqlite');
  });
  after(() => t?.stop());

  it('IMAP: commands in the same packet as STARTTLS are not run after the handshake', async () => {
    const { talk } = await ImapTalk.open(t.port('imap'), { tls: false });
    // More than a queue's worth, so that reading was paused too when the switch came.
    const injected = Array.from({ length: 100 }, (_, i) => `x${i} NOOP\r\n`).join('');
    talk.write(`s1 STARTTLS\r\n${injected}`);
    assert.match(await talk.response('s1'), /^s1 OK Begin TLS/);
    await talk.startTls();
    const reply = await talk.command('CAPABILITY');
    assert.doesNotMatch(reply, /x\d+ /, 'an injected command ran inside TLS');
    assert.match(reply, /\* CAPABILITY [^\r]*AUTH=PLAIN/);
    talk.close();
  });

  it('POP3: commands in the same packet as STLS are not run after the handshake', async () => {
    const { talk } = await Pop3Talk.open(t.port('pop3'));
    const injected = 'USER attacker@test.example\r\n'.repeat(100);
    talk.write(`STLS\r\n${injected}`);
    assert.match(await talk.line(), /^\+OK Begin TLS/);
    await talk.upgrade();
    // The first answer inside TLS is to the client's own command, not to an injected USER.
    assert.equal(await talk.send('NOOP'), '+OK');
    talk.close();
  });
});
