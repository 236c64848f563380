// SEARCH criteria whose meaning IMAP4rev1 clients rely on (RFC 3501 §6.4.4):
// - SENTBEFORE/SENTON/SENTSINCE compare the day of the Date: header in its own zone, BEFORE/ON/SINCE
//   the day of the internal date (Holdfast keeps internal dates in UTC, as Dovecot does on a server
//   whose zone is UTC); the time of day never matters.
// - BODY and TEXT match a case-insensitive substring of the decoded message — BODY in the body only,
//   TEXT in the header or the body — inside words too, after quoted-printable, base64 and charset
//   decoding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

// Sent on the 24th, 25th and 26th of March in +0200; the last two are the 25th in UTC.
const dated = [
  { date: 'Sat, 24 Mar 2007 10:00:00 +0200', internal: '24-Mar-2007 10:00:00 +0000' },
  { date: 'Sun, 25 Mar 2007 23:30:00 +0200', internal: '25-Mar-2007 23:30:00 +0000' },
  { date: 'Mon, 26 Mar 2007 00:30:00 +0200', internal: '26-Mar-2007 00:30:00 +0000' },
];

const texts = [
  'From: a@test.example\r\nSubject: plain\r\n\r\nNothing to see here.\r\n',
  'From: a@test.example\r\nSubject: qwertyuiop in the subject only\r\n\r\nThe body says something else.\r\n',
  'From: a@test.example\r\nSubject: encoded\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n',
  'From: a@test.example\r\nSubject: inside a word\r\n\r\nxxQWERTYUIOPxx is here.\r\n',
  'From: a@test.example\r\nSubject: base64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    Buffer.from('Die Straße nach Zürich\r\n').toString('base64') +
    '\r\n',
];

for (const name of backendNames) {
  describe(`IMAP SEARCH by date and text on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    /** Creates a folder holding these messages (with their internal dates, if given) and selects it. */
    const fill = async (folder: string, messages: { text: string; internal?: string }[]) => {
      await talk.command(`CREATE ${folder}`);
      for (const [i, m] of messages.entries()) {
        talk.write(
          `${folder}${i} APPEND ${folder}${m.internal ? ` "${m.internal}"` : ''} {${Buffer.byteLength(m.text)}+}\r\n${m.text}\r\n`,
        );
        assert.match(await talk.response(`${folder}${i}`), /OK/);
      }
      await talk.command(`SELECT ${folder}`);
    };
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'dana@test.example', password });
      ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
      await talk.login('dana@test.example', password);
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    const search = async (criteria: string) =>
      /\* SEARCH([\d ]*)\r\n/.exec(await talk.command(`SEARCH ${criteria}`))?.[1]?.trim();

    describe('dates', () => {
      before(() =>
        fill(
          'Dates',
          dated.map((m, i) => ({
            text: `From: a@test.example\r\nDate: ${m.date}\r\nSubject: dated ${i + 1}\r\n\r\nBody ${i + 1}\r\n`,
            internal: m.internal,
          })),
        ),
      );

      it('compares the Date: header in its own zone', async () => {
        assert.equal(await search('SENTBEFORE 25-Mar-2007'), '1');
        assert.equal(await search('SENTON 25-Mar-2007'), '2');
        assert.equal(await search('SENTSINCE 25-Mar-2007'), '2 3');
        assert.equal(await search('SENTON 26-Mar-2007'), '3');
      });

      it('compares the internal date by its day', async () => {
        assert.equal(await search('BEFORE 25-Mar-2007'), '1');
        assert.equal(await search('ON 25-Mar-2007'), '2');
        assert.equal(await search('SINCE 25-Mar-2007'), '2 3');
        assert.equal(await search('ON 26-Mar-2007'), '3');
      });
    });

    describe('text', () => {
      before(() =>
        fill(
          'Texts',
          texts.map((text) => ({ text })),
        ),
      );

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
        talk.write(
          Buffer.concat([
            Buffer.from(`${tag} SEARCH CHARSET UTF-8 BODY {${bytes.length}+}\r\n`),
            bytes,
            Buffer.from('\r\n'),
          ]),
        );
        return /\* SEARCH([\d ]*)\r\n/.exec(await talk.response(tag))?.[1]?.trim();
      };

      it('decodes transfer encodings and charsets before comparing', async () => {
        assert.equal(await searchUtf8('u1', 'GRÜßE'), '3');
        assert.equal(await searchUtf8('u2', 'straße'), '5');
        assert.equal(await search('BODY RICH'), '5');
      });
    });
  });
}
