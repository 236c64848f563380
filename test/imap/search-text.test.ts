// SEARCH BODY and TEXT (RFC 3501 §6.4.4): a case-insensitive substring of the decoded message — BODY
// in the body only, TEXT in the header or the body — inside words too, after quoted-printable, base64
// and charset decoding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

const messages = [
  'From: a@test.example\r\nSubject: plain\r\n\r\nNothing to see here.\r\n',
  'From: a@test.example\r\nSubject: qwertyuiop in the subject only\r\n\r\nThe body says something else.\r\n',
  'From: a@test.example\r\nSubject: encoded\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n',
  'From: a@test.example\r\nSubject: inside a word\r\n\r\nxxQWERTYUIOPxx is here.\r\n',
  'From: a@test.example\r\nSubject: base64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' + Buffer.from('Die Straße nach Zürich\r\n').toString('base64') + '\r\n',
];

for (const name of backendNames) {
  describe(`IMAP SEARCH BODY and TEXT on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'erin@test.example', password });
      ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
      await talk.login('erin@test.example', password);
      await talk.command('CREATE Texts');
      for (const [i, text] of messages.entries()) {
        talk.write(`a${i} APPEND Texts {${Buffer.byteLength(text)}+}\r\n${text}\r\n`);
        assert.match(await talk.response(`a${i}`), /OK/);
      }
      await talk.command('SELECT Texts');
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    const search = async (criteria: string) => /\* SEARCH([\d ]*)\r\n/.exec(await talk.command(`SEARCH ${criteria}`))?.[1]?.trim();

    it('matches BODY in the body only, as a substring', async () => {
      assert.equal(await search('BODY qwertyuiop'), '4');
      assert.equal(await search('BODY wertyui'), '4');
      assert.equal(await search('TEXT qwertyuiop'), '2 4');
      assert.equal(await search('BODY "is here"'), '4');
      assert.equal(await search('BODY nowhere-at-all'), '');
    });

    /** SEARCH CHARSET UTF-8 BODY with the string as a literal of its UTF-8 bytes. */
    const searchUtf8 = async (tag: string, text: string) => {
      const bytes = Buffer.from(text, 'utf8');
      talk.write(Buffer.concat([Buffer.from(`${tag} SEARCH CHARSET UTF-8 BODY {${bytes.length}+}\r\n`), bytes, Buffer.from('\r\n')]));
      return /\* SEARCH([\d ]*)\r\n/.exec(await talk.response(tag))?.[1]?.trim();
    };

    it('decodes transfer encodings and charsets before comparing', async () => {
      assert.equal(await searchUtf8('u1', 'GRÜßE'), '3');
      assert.equal(await searchUtf8('u2', 'straße'), '5');
      assert.equal(await search('BODY RICH'), '5');
    });
  });
}
