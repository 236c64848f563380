// The disclaimer in a message's parts (src/flow/intake/disclaimer.ts), without a server: plain text
// in 7bit, HTML before </body>, quoted-printable and base64 alternatives decoded and encoded again,
// the first part of a mixed message and not its attachment; signed, encrypted and inline-PGP mail
// and a charset that cannot hold the text are left as they are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { addDisclaimer } from '../../src/flow/intake/disclaimer.ts';

const head = 'From: alice@test.example\r\nTo: bob@remote.example\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n';
const notice = 'Confidential: for the addressee only.\nContoso Ltd, Zürich';

describe('disclaimer in the parts of a message', () => {
  it('appends to a plain 7bit message only when its charset holds the text', () => {
    const plain = `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Bob\r\n`;
    const out = addDisclaimer(Buffer.from(plain), notice)!.toString('utf8');
    assert.ok(out.startsWith(head), 'the header is unchanged');
    assert.match(out, /\r\n\r\nHello Bob\r\n\r\nConfidential: for the addressee only\.\r\nContoso Ltd, Zürich\r\n$/);
    const ascii = `${head}Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob\r\n`;
    assert.equal(addDisclaimer(Buffer.from(ascii), notice), undefined, 'us-ascii 7bit cannot hold ü');
    assert.match(
      addDisclaimer(Buffer.from(ascii), 'Plain ASCII notice')!.toString(),
      /Hello Bob\r\n\r\nPlain ASCII notice\r\n$/,
    );
  });

  it('turns a 7bit UTF-8 part the text does not fit into quoted-printable, saying so in its header', async () => {
    const message = `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello Bob\r\n`;
    const out = addDisclaimer(Buffer.from(message), notice)!.toString('latin1');
    assert.match(out, /\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello Bob\r\n/);
    assert.doesNotMatch(out, /7bit/);
    assert.equal((await simpleParser(Buffer.from(out, 'latin1'))).text, `Hello Bob\n\n${notice}\n`);
  });

  it('decodes and encodes quoted-printable and base64 alternatives, HTML before </body>', async () => {
    const message =
      `${head}Content-Type: multipart/alternative; boundary="b1"\r\n\r\n` +
      '--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BCezi Bob\r\n' +
      `--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('<html><body><p>Grüezi Bob</p></body></html>').toString('base64')}\r\n` +
      '--b1--\r\n';
    const parsed = await simpleParser(addDisclaimer(Buffer.from(message), notice)!);
    assert.equal(parsed.text, 'Grüezi Bob\n\nConfidential: for the addressee only.\nContoso Ltd, Zürich');
    assert.equal(
      parsed.html,
      '<html><body><p>Grüezi Bob</p><div class="disclaimer"><p>Confidential: for the addressee only.<br>\nContoso Ltd, Zürich</p></div>\n</body></html>',
    );
  });

  it('extends the body of a mixed message, not its attachment', async () => {
    const message =
      `${head}Content-Type: multipart/mixed; boundary="m"\r\n\r\n` +
      '--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached\r\n' +
      '--m\r\nContent-Type: text/plain; name="notes.txt"\r\nContent-Disposition: attachment; filename="notes.txt"\r\n\r\nnotes\r\n' +
      '--m--\r\n';
    const parsed = await simpleParser(addDisclaimer(Buffer.from(message), 'Notice')!);
    assert.equal(parsed.text, 'See attached\n\nNotice');
    assert.equal(parsed.attachments[0]!.content.toString(), 'notes');
  });

  it('leaves signed, encrypted and inline-PGP mail as it is', () => {
    const signed =
      `${head}Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\r\n\r\n` +
      '--s\r\nContent-Type: text/plain\r\n\r\nSigned words\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIAG\r\n--s--\r\n';
    assert.equal(addDisclaimer(Buffer.from(signed), 'Notice'), undefined);
    const smime = `${head}Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIAG\r\n`;
    assert.equal(addDisclaimer(Buffer.from(smime), 'Notice'), undefined);
    const pgp = `${head}Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n`;
    assert.equal(addDisclaimer(Buffer.from(pgp), 'Notice'), undefined);
  });
});
