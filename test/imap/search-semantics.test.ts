// SEARCH where the RFCs leave room and Dovecot (the reference) shows what clients meet:
// - a Date: header that is missing or cannot be read counts as 1 Jan 1970 for SENTBEFORE/SENTON/SENTSINCE;
//   a date the month does not have (31-Feb-2024) names no day and matches nothing;
// - CHARSET may be any charset the message decoder reads (KOI8-R...), its strings converted to text;
// - 8-bit text in an atom is BAD in every mode; quoted or as a literal it is text;
// - TEXT looks into the headers inside the body (MIME parts, encapsulated messages), BODY does not;
// - contents stored without metadata are searched like the others (their metadata computed then);
// - with CONDSTORE: ESEARCH's MODSEQ is the MIN's or MAX's when only those are asked (RFC 4731 3.2),
//   RETURN (SAVE) with a MODSEQ criterion still reports the MODSEQ, SAVE with MIN keeps only the MIN
//   (RFC 5182), and the first CONDSTORE enabling command in a selected folder tells its HIGHESTMODSEQ
//   (RFC 7162 3.1).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

const datedMessages = [
  {
    internal: '01-Mar-2024 10:00:00 +0000',
    text: 'From: a@test.example\r\nSubject: readable\r\nDate: Fri, 1 Mar 2024 10:00:00 +0000\r\n\r\nx\r\n',
  },
  {
    internal: '01-Jan-2038 00:00:00 +0000',
    text: 'From: a@test.example\r\nSubject: unreadable\r\nDate: not a date at all\r\n\r\nx\r\n',
  },
  { internal: '02-Mar-2024 10:00:00 +0000', text: 'From: a@test.example\r\nSubject: no date\r\n\r\nx\r\n' },
];

const koi8Subject = Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]); // "Привет" in KOI8-R

const mimeMessages = [
  {
    text: [
      'From: a@test.example',
      'Subject: forwarded',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: text/plain',
      '',
      'see below',
      '--outer',
      'Content-Type: message/rfc822',
      'Content-Description: the original',
      '',
      'From: b@test.example',
      'Subject: =?utf-8?q?inner_gr=C3=BC=C3=9Fe?=',
      '',
      'inner body',
      '--outer--',
      '',
    ].join('\r\n'),
  },
  {
    text: 'From: a@test.example\r\nSubject: =?koi8-r?q?=F0=D2=C9=D7=C5=D4?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nViele Grüße\r\n',
  },
];

for (const name of backendNames) {
  describe(`IMAP SEARCH semantics on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    const login = async () => {
      const { talk: session } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await session.login('erin@test.example', password);
      return session;
    };
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
    /** The numbers of `* SEARCH`, or the tagged reply when there is none. */
    const search = async (criteria: string | Buffer, session = talk) => {
      const tag = `s${Math.random().toString(36).slice(2, 8)}`;
      session.write(Buffer.concat([Buffer.from(`${tag} SEARCH `), Buffer.from(criteria), Buffer.from('\r\n')]));
      const reply = await session.response(tag);
      return /\* SEARCH([\d ]*)\r\n/.exec(reply)?.[1]?.trim() ?? reply.split('\r\n').at(-1)!.replace(/^\S+ /, '');
    };

    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'erin@test.example', password });
      talk = await login();
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    describe('dates', () => {
      before(() => fill('Dates', datedMessages));

      it('takes a missing or unreadable Date: as 1 Jan 1970', async () => {
        assert.equal(await search('SENTBEFORE 2-Mar-2024'), '1 2 3');
        assert.equal(await search('SENTON 1-Jan-1970'), '2 3');
        assert.equal(await search('SENTSINCE 2-Jan-1970'), '1');
      });

      it('finds nothing for a day the month does not have', async () => {
        assert.equal(await search('ON 31-Feb-2024'), '');
        assert.equal(await search('SINCE 31-Feb-2024'), '');
        assert.equal(await search('SENTBEFORE 0-Mar-2024'), '');
        assert.equal(await search('NOT ON 31-Feb-2024'), '1 2 3');
        assert.equal(await search('ON 29-Feb-2024'), '');
      });

      it('reads years before 100 as they are', async () => {
        assert.equal(await search('SENTON 1-Jan-0070'), '');
        assert.equal(await search('SINCE 1-Jan-0050'), '1 2 3');
      });

      it('compares internal dates after 2038 by their day', async () => {
        assert.equal(await search('SINCE 1-Jan-2038'), '2');
      });
    });

    describe('charsets and 8-bit text', () => {
      before(() => fill('Charsets', mimeMessages));

      it('converts search strings from the CHARSET given', async () => {
        const literal = Buffer.concat([
          Buffer.from(`CHARSET KOI8-R SUBJECT {${koi8Subject.length}+}\r\n`),
          koi8Subject,
        ]);
        assert.equal(await search(literal), '2');
        assert.equal(await search('CHARSET koi8-r SUBJECT forwarded'), '1');
        const latin1 = Buffer.concat([
          Buffer.from('CHARSET ISO-8859-1 BODY {5+}\r\n'),
          Buffer.from('Gr\xfc\xdfe', 'latin1'),
        ]);
        assert.equal(await search(latin1), '2');
      });

      it('answers NO [BADCHARSET] for a charset it cannot read, and for one that does not read ASCII as ASCII', async () => {
        assert.equal(
          await search('CHARSET UNKNOWN-8 SUBJECT x'),
          'NO [BADCHARSET (UTF-8 US-ASCII)] Charset UNKNOWN-8 is not supported',
        );
        assert.match(await search('CHARSET UTF-16 SUBJECT x'), /^NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
      });

      it('refuses 8-bit text in an atom, before and after ENABLE UTF8=ACCEPT, and takes it quoted', async () => {
        assert.match(await search('BODY grüße'), /^BAD /);
        assert.equal(await search('BODY "grüße"'), '2');
        const utf8 = await login();
        await utf8.command('ENABLE UTF8=ACCEPT');
        await utf8.command('SELECT Charsets');
        assert.match(await search('BODY grüße', utf8), /^BAD /);
        assert.equal(await search('CHARSET UTF-8 BODY "grüße"', utf8), '2');
        utf8.close();
      });

      it('looks into the headers inside the body for TEXT, not for BODY', async () => {
        assert.equal(await search('TEXT "b@test.example"'), '1');
        assert.equal(await search('TEXT "the original"'), '1');
        assert.equal(await search('TEXT "inner grüße"'), '1');
        assert.equal(await search('BODY "b@test.example"'), '');
        assert.equal(await search('BODY "inner body"'), '1');
        assert.equal(await search('TEXT content-transfer-encoding'), '2');
      });
    });

    describe('contents stored without metadata', () => {
      before(async () => {
        await fill('Bare', [
          { text: 'From: old@test.example\r\nSubject: from before metadata\r\n\r\nAn ancient body.\r\n' },
        ]);
        // As a content stored before metadata existed: nothing derived from it is kept.
        const { db } = t.node.holdfast.store;
        await db.deleteFrom('blob_metadata').execute();
      });

      it('are searched by body and header, their metadata computed then', async () => {
        assert.equal(await search('BODY ancient'), '1');
        assert.equal(await search('FROM old@test.example'), '1');
        assert.equal(await search('TEXT "before metadata"'), '1');
      });
    });

    describe('CONDSTORE and ESEARCH', () => {
      let session: ImapTalk;
      before(async () => {
        await fill(
          'Modseq',
          [1, 2, 3].map((i) => ({ text: `From: a@test.example\r\nSubject: m${i}\r\n\r\nx\r\n` })),
        );
        // Message 1 changes last: it has the highest MODSEQ, message 3 the lowest of the others' but one.
        await talk.command('STORE 1 +FLAGS (\\Flagged)');
        session = await login();
      });
      after(() => session.close());

      const modseqs = async () => {
        const reply = await session.command('FETCH 1:3 (MODSEQ)');
        return [...reply.matchAll(/\* (\d) FETCH \(MODSEQ \((\d+)\)\)/g)].map((m) => Number(m[2]));
      };

      it('tells the HIGHESTMODSEQ at the first CONDSTORE enabling command in a selected folder', async () => {
        const select = await session.command('SELECT Modseq');
        const highest = /HIGHESTMODSEQ (\d+)/.exec(select)![1];
        const first = await session.command('FETCH 1 (MODSEQ)');
        assert.match(first, new RegExp(`^\\* OK \\[HIGHESTMODSEQ ${highest}\\]`, 'm'));
        assert.doesNotMatch(await session.command('FETCH 1 (MODSEQ)'), /HIGHESTMODSEQ/);

        const other = await login();
        await other.command('SELECT Modseq');
        assert.match(await other.command('SEARCH MODSEQ 1'), /^\* OK \[HIGHESTMODSEQ \d+\]/m);
        other.close();

        const storing = await login();
        await storing.command('SELECT Modseq');
        assert.match(
          await storing.command('STORE 1 (UNCHANGEDSINCE 1) +FLAGS (Unchanged)'),
          /^\* OK \[HIGHESTMODSEQ \d+\]/m,
        );
        storing.close();
      });

      it('reports the MODSEQ of the MIN or MAX alone, and the highest of all otherwise', async () => {
        const [m1, m2, m3] = await modseqs();
        assert.ok(m1! > m3! && m3! > m2!);
        assert.match(
          await session.command('SEARCH RETURN (MIN) MODSEQ 1'),
          new RegExp(`^\\* ESEARCH \\(TAG "\\w+"\\) MIN 1 MODSEQ ${m1}\\r$`, 'm'),
        );
        assert.match(
          await session.command('SEARCH RETURN (MAX) MODSEQ 1'),
          new RegExp(`^\\* ESEARCH \\(TAG "\\w+"\\) MAX 3 MODSEQ ${m3}\\r$`, 'm'),
        );
        assert.match(
          await session.command('SEARCH RETURN (MIN MAX) 2:3 MODSEQ 1'),
          new RegExp(`^\\* ESEARCH \\(TAG "\\w+"\\) MIN 2 MAX 3 MODSEQ ${m3}\\r$`, 'm'),
        );
        assert.match(
          await session.command('SEARCH RETURN (COUNT) 2:3 MODSEQ 1'),
          new RegExp(`^\\* ESEARCH \\(TAG "\\w+"\\) COUNT 2 MODSEQ ${m3}\\r$`, 'm'),
        );
      });

      it('reports the MODSEQ for RETURN (SAVE) with a MODSEQ criterion, and saves only the MIN with MIN', async () => {
        assert.match(
          await session.command('SEARCH RETURN (SAVE) 2:3 MODSEQ 1'),
          /^\* ESEARCH \(TAG "\w+"\) MODSEQ \d+\r$/m,
        );
        assert.doesNotMatch(await session.command('SEARCH RETURN (SAVE) 2:3'), /ESEARCH/);
        await session.command('SEARCH RETURN (SAVE MIN) 2:3');
        assert.equal(await search('$', session), '2');
      });
    });
  });
}
