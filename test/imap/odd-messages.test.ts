// What a client sees of odd messages and requests, as Dovecot answers them unless docs/imap.md says
// otherwise: NUL octets in header values (never sent: U+FFFD in their place), APPEND dates that do
// not exist, a multipart with more parts than the MIME tree keeps, a message with two Subject fields
// (SORT and THREAD read the one ENVELOPE shows), SORT over envelopes an older Holdfast stored, and
// ENABLE of an extension already on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const crlf = (lines: string[]) => lines.join('\r\n');
/** U+FFFD as an IMAP4rev1 client reads it off the wire (ImapTalk reads latin1). */
const replacementAsLatin1 = Buffer.from('\uFFFD', 'utf8').toString('latin1');

describe('IMAP: odd messages and requests', () => {
  let t: TestNode;
  let talk: ImapTalk;
  const append = async (message: string, options = '') =>
    talk.command(`APPEND INBOX ${options}{${Buffer.byteLength(message, 'latin1')}+}\r\n${message}`);

  before(async () => {
    t = await startTestNode('sqlite');
    await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
      kind: 'user',
      address: 'carol@test.example',
      password,
    });
    ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
    await talk.login('carol@test.example', password);
  });
  after(async () => {
    talk.close();
    await t.stop();
  });

  it('never sends NUL from a header value: U+FFFD in its place, as Dovecot (RFC 9051 §4.3: CHAR8 excludes %x00)', async () => {
    await talk.command('CREATE nul');
    const message = crlf([
      'From: "Nul\0Name" <a@x.example>',
      'Subject: before\0after',
      'Content-Type: text/plain; name="a\0b"',
      '',
      'body',
    ]);
    assert.match(await talk.command(`APPEND nul ~{${message.length}+}\r\n${message}`), /OK \[APPENDUID/);
    await talk.command('EXAMINE nul');
    const reply = await talk.command('FETCH 1 (ENVELOPE BODYSTRUCTURE)');
    assert.ok(!reply.includes('\0'), JSON.stringify(reply));
    assert.ok(reply.includes(`{14}\r\nbefore${replacementAsLatin1}after`), reply);
    assert.ok(reply.includes(`{10}\r\nNul${replacementAsLatin1}Name NIL "a" "x.example"`), reply);
    assert.ok(reply.includes(`"NAME" {5}\r\na${replacementAsLatin1}b`), reply);
    await talk.command('CLOSE');
  });

  it('sends NUL in a body section as 0x80, as Dovecot, and keeps it in BINARY content, as a literal8 (RFC 3516)', async () => {
    await talk.command('CREATE nulbody');
    const small = crlf(['Subject: before\0after', '', 'body\0text']);
    // Over 256 KiB: its sections are streamed from the store rather than read whole.
    const large = crlf(['Subject: large', '', `${'x'.repeat(300_000)}\0end`]);
    const binary = crlf([
      'Subject: binary',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAEC',
    ]);
    for (const message of [small, large, binary])
      assert.match(await talk.command(`APPEND nulbody ~{${message.length}+}\r\n${message}`), /OK \[APPENDUID/);
    await talk.command('EXAMINE nulbody');
    const sections = await talk.command('FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])');
    assert.ok(!sections.includes('\0'), 'no NUL on the wire');
    assert.ok(sections.includes('{25}\r\nSubject: before\x80after\r\n\r\n'), sections.slice(0, 300));
    assert.ok(sections.includes('{9}\r\nbody\x80text'), sections.slice(0, 300));
    assert.ok(sections.includes(`${'x'.repeat(100)}\x80end`), 'the streamed section too');
    const content = await talk.command('FETCH 3 (BINARY.PEEK[1] BINARY.SIZE[1])');
    assert.ok(content.includes('BINARY[1] ~{3}\r\n\0\x01\x02'), JSON.stringify(content));
    assert.match(content, /BINARY\.SIZE\[1\] 3/);
    await talk.command('CLOSE');
  });

  it('refuses an APPEND date that does not exist with BAD, and takes the last day of a month', async () => {
    for (const date of [
      '31-Feb-2020 00:00:00 +0000',
      '29-Feb-2021 00:00:00 +0000',
      '17-Jul-1996 25:61:61 +0000',
      '00-Jul-1996 00:00:00 +0000',
    ]) {
      assert.match(await append('Subject: x\r\n\r\nx', `"${date}" `), /^t\d+ BAD .*date-time/m, date);
    }
    await talk.command('CREATE dates');
    assert.match(
      await talk.command('APPEND dates "29-Feb-2024 23:59:60 +0100" {15+}\r\nSubject: x\r\n\r\nx'),
      /OK \[APPENDUID/,
    );
    await talk.command('EXAMINE dates');
    assert.match(
      await talk.command('FETCH 1 INTERNALDATE'),
      /INTERNALDATE "29-Feb-2024 22:59:59 \+0000"/,
      'a leap second as second 59',
    );
    await talk.command('CLOSE');
  });

  it('keeps at most 2000 parts of a multipart, in BODYSTRUCTURE and BODY[n] alike', async () => {
    await talk.command('CREATE parts');
    const message = crlf([
      'Subject: many parts',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      `${'--b\r\n\r\nx\r\n'.repeat(5000)}--b--`,
      '',
    ]);
    assert.match(await talk.command(`APPEND parts {${message.length}+}\r\n${message}`), /OK \[APPENDUID/);
    await talk.command('EXAMINE parts');
    const structure = await talk.command('FETCH 1 BODYSTRUCTURE');
    const parts = structure.split('("TEXT" "PLAIN"').length - 1;
    assert.ok(parts > 1000 && parts < 2000, `${parts} parts`);
    const sections = await talk.command(`FETCH 1 (BODY.PEEK[${parts}] BODY.PEEK[${parts + 1}] BODY.PEEK[TEXT]<0.5>)`);
    assert.ok(sections.includes(`BODY[${parts}] "x"`) || sections.includes(`BODY[${parts}] {1}\r\nx`), sections);
    assert.ok(sections.includes(`BODY[${parts + 1}] ""`) || sections.includes(`BODY[${parts + 1}] {0}\r\n`), sections);
    await talk.command('CLOSE');
  });

  describe('SORT and THREAD', () => {
    before(async () => {
      await talk.command('CREATE sort');
      const messages = [
        ['From: zed@x.example', 'Subject: alpha', 'Subject: zulu', 'Date: Fri, 1 Mar 2024 10:00:00 +0000'],
        ['From: amy@x.example', 'Subject: mike', 'Date: Sat, 2 Mar 2024 10:00:00 +0000'],
        ['From: bob@x.example', 'Subject: Re: zulu', 'Date: Sun, 3 Mar 2024 10:00:00 +0000'],
      ];
      for (const lines of messages) {
        const message = crlf([...lines, '', 'x']);
        assert.match(await talk.command(`APPEND sort {${message.length}+}\r\n${message}`), /OK \[APPENDUID/);
      }
      await talk.command('EXAMINE sort');
    });

    it('reads a message with two Subject fields by the last, as ENVELOPE shows it', async () => {
      assert.match(await talk.command('FETCH 1 ENVELOPE'), /"zulu"/);
      assert.match(await talk.command('SORT (SUBJECT) UTF-8 ALL'), /^\* SORT 2 1 3$/m);
      assert.match(await talk.command('THREAD ORDEREDSUBJECT UTF-8 ALL'), /^\* THREAD \(1 3\)\(2\)$/m);
    });

    it('sorts by envelopes computed again where an older Holdfast stored them, as FETCH does', async () => {
      // Message 1's stored envelope made one an older version could have stored: no format, another From.
      const { db } = t.node.holdfast.store;
      const rows = await db.selectFrom('blob_metadata').select(['hash', 'tree', 'envelope']).execute();
      const row = rows.find((r) => JSON.parse(r.envelope).subject === 'zulu')!;
      const { format: _, ...tree } = JSON.parse(row.tree);
      const envelope = { ...JSON.parse(row.envelope), from: [[null, null, 'aaa', 'x.example']] };
      await db
        .updateTable('blob_metadata')
        .set({ tree: JSON.stringify(tree), envelope: JSON.stringify(envelope) })
        .where('hash', '=', row.hash)
        .execute();
      assert.match(await talk.command('SORT (FROM) UTF-8 ALL'), /^\* SORT 2 3 1$/m, 'amy, bob, zed: not the stale aaa');
      const stored = await db
        .selectFrom('blob_metadata')
        .select('tree')
        .where('hash', '=', row.hash)
        .executeTakeFirstOrThrow();
      assert.equal(JSON.parse(stored.tree).format, 2, 'stored again in the current form');
    });
  });

  it('lists an extension in ENABLED also when it is on already (by FETCH MODSEQ or an earlier ENABLE), as Dovecot', async () => {
    const { talk: other } = await ImapTalk.open(t.port('imaps'), { tls: true });
    try {
      await other.login('carol@test.example', password);
      await other.command('EXAMINE sort');
      assert.match(await other.command('FETCH 1 (MODSEQ)'), /MODSEQ \(\d+\)/);
      assert.match(await other.command('ENABLE CONDSTORE'), /^\* ENABLED CONDSTORE$/m);
      assert.match(await other.command('ENABLE CONDSTORE X-UNKNOWN CONDSTORE'), /^\* ENABLED CONDSTORE$/m);
      assert.match(
        await other.command('ENABLE X-UNKNOWN'),
        /^\* ENABLED$/m,
        'sent even when nothing is (RFC 9051 §6.3.1)',
      );
    } finally {
      other.close();
    }
  });
});
