// Large messages are never read whole for FETCH: whole bodies and parts are streamed from the blob
// store and headers read by range. What the client receives must be byte for byte what a small
// message would give: the whole message, partial ranges, parts, MIME and HEADER.FIELDS sections, an
// encapsulated message's header and text, BINARY — on SQLite (inline and file blobs) and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const attachment = Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const attachmentBase64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n').trimEnd();
const textPart = 'The quarterly figures are attached.\r\n'.repeat(8000); // ~300 KB
const innerHeader = 'From: bob@test.example\r\nSubject: the forwarded one\r\n\r\n';
const innerText = 'Forwarded text.\r\n';
const header =
  'From: alice@test.example\r\nTo: carol@test.example\r\nSubject: figures\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n';
const part1Mime = 'Content-Type: text/plain; charset=utf-8\r\n\r\n';
const part2Mime =
  'Content-Type: application/octet-stream; name="figures.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n';
const part3Mime = 'Content-Type: message/rfc822\r\n\r\n';
const message = `${header}--b1\r\n${part1Mime}${textPart}\r\n--b1\r\n${part2Mime}${attachmentBase64}\r\n--b1\r\n${part3Mime}${innerHeader}${innerText}\r\n--b1--\r\n`;

/** The literal (or literal8, for BINARY content with NUL) after `label` in a FETCH response (read as latin1, byte for byte). */
function literal(reply: string, label: string): string {
  const at = Math.max(reply.indexOf(`${label} {`), reply.indexOf(`${label} ~{`));
  assert.ok(at >= 0, `${label} in the response`);
  const open = reply.indexOf('{', at);
  const close = reply.indexOf('}', open);
  const length = Number(reply.slice(open + 1, close));
  return reply.slice(close + 3, close + 3 + length);
}

for (const name of backendNames) {
  describe(`large messages over IMAP on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    before(async () => {
      t = await startTestNode(name);
      await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
        kind: 'user',
        address: 'carol@test.example',
        password,
      });
      ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
      await talk.login('carol@test.example', password);
      const reply = await talk.command(`APPEND INBOX {${Buffer.byteLength(message)}+}\r\n${message}`, 60_000);
      assert.match(reply, /OK \[APPENDUID/);
      await talk.command('EXAMINE INBOX');
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    it('streams the whole message and its parts, byte for byte', async () => {
      const reply = await talk.command(
        'FETCH 1 (RFC822.SIZE BODY[] BODY[]<700000.1000> BODY[1] BODY[2] BODY[2]<10.20> BODY[TEXT])',
        60_000,
      );
      assert.ok(reply.includes(`RFC822.SIZE ${message.length}`));
      assert.equal(literal(reply, 'BODY[]'), message);
      assert.equal(literal(reply, 'BODY[]<700000>'), message.slice(700_000, 701_000));
      assert.equal(literal(reply, 'BODY[1]'), textPart);
      assert.equal(literal(reply, 'BODY[2]'), attachmentBase64);
      assert.equal(literal(reply, 'BODY[2]<10>'), attachmentBase64.slice(10, 30));
      assert.equal(literal(reply, 'BODY[TEXT]'), message.slice(header.length));
    });

    it('reads headers, MIME headers and an encapsulated message by range', async () => {
      const reply = await talk.command(
        'FETCH 1 (BODY[HEADER] BODY[HEADER.FIELDS (SUBJECT FROM)] BODY[HEADER.FIELDS.NOT (SUBJECT FROM)] BODY[2.MIME] BODY[3.HEADER] BODY[3.TEXT] BODY[HEADER]<5.10>)',
        60_000,
      );
      assert.equal(literal(reply, 'BODY[HEADER]'), header);
      assert.equal(
        literal(reply, 'BODY[HEADER.FIELDS (SUBJECT FROM)]'),
        'From: alice@test.example\r\nSubject: figures\r\n\r\n',
      );
      assert.equal(
        literal(reply, 'BODY[HEADER.FIELDS.NOT (SUBJECT FROM)]'),
        'To: carol@test.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n',
      );
      assert.equal(literal(reply, 'BODY[2.MIME]'), part2Mime);
      assert.equal(literal(reply, 'BODY[3.HEADER]'), innerHeader);
      assert.equal(literal(reply, 'BODY[3.TEXT]'), innerText);
      assert.equal(literal(reply, 'BODY[HEADER]<5>'), header.slice(5, 15));
    });

    it('decodes BINARY of a large part', async () => {
      const reply = await talk.command('FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2]<0.64>)', 60_000);
      assert.ok(reply.includes(`BINARY.SIZE[2] ${attachment.length}`), reply.slice(0, 200));
      assert.equal(
        Buffer.from(literal(reply, 'BINARY[2]<0>'), 'latin1').toString('hex'),
        attachment.subarray(0, 64).toString('hex'),
      );
    });
  });
}
