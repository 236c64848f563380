// ENVELOPE, BODYSTRUCTURE and body sections as a client reads them, answered as Dovecot answers
// (conformance/imap fixtures envelope and mime): addresses without a domain or mailbox, comments,
// line counts (line breaks in the body), a multipart without parts, parts that do not exist, RFC 2231
// parameters for IMAP4rev1 clients and for clients that enabled UTF-8 — and the same answers for a
// message whose structure was stored by an older Holdfast.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const crlf = (lines: string[]) => lines.join('\r\n');

const addresses = crlf([
  'From: no-domain, @x.example, <>',
  'To: A Group:a@x.example,(comment) b@x.example;',
  'Cc: c@x.example (Carol)',
  'Subject: addresses',
  '',
  'body',
]);
const nested = crlf([
  'From: a@x.example',
  'Subject: nested',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: text/plain',
  '',
  'one line, its CRLF belongs to the boundary',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'Subject: inside',
  '',
  'inner body',
  '--outer',
  "Content-Type: application/octet-stream; name*=UTF-8''%E2%82%AC.bin",
  "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.bin",
  '',
  'AAEC',
  '--outer--',
  '',
]);
const empty = crlf([
  'From: a@x.example',
  'Subject: empty multipart',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary=nothing',
  '',
  'no parts at all',
]);
const plain = crlf([
  'From: b@x.example (Old Comment)',
  'Subject: stored by an older Holdfast',
  '',
  'line one',
  'line two',
]);

const euroUtf8AsLatin1 = Buffer.from('€', 'utf8').toString('latin1');

describe('IMAP message structure (ENVELOPE, BODYSTRUCTURE, sections)', () => {
  let t: TestNode;
  let talk: ImapTalk;
  before(async () => {
    t = await startTestNode('sqlite');
    await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
      kind: 'user',
      address: 'carol@test.example',
      password,
    });
    ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
    await talk.login('carol@test.example', password);
    for (const message of [addresses, nested, empty, plain])
      assert.match(await talk.command(`APPEND INBOX {${Buffer.byteLength(message)}+}\r\n${message}`), /OK \[APPENDUID/);
    await storeAsOldVersion(t, 'stored by an older Holdfast');
    await talk.command('EXAMINE INBOX');
  });
  after(async () => {
    talk.close();
    await t.stop();
  });

  it('reads addresses as RFC 5322 writes them: a word without @ is a mailbox, a comment before an address is no name, one after it is', async () => {
    const reply = await talk.command('FETCH 1 ENVELOPE');
    assert.ok(reply.includes('((NIL NIL "no-domain" "MISSING_DOMAIN")'), reply);
    assert.ok(
      reply.includes('(NIL NIL "MISSING_MAILBOX" "x.example") (NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'),
      reply,
    );
    assert.ok(
      reply.includes('((NIL NIL "A Group" NIL) (NIL NIL "a" "x.example") (NIL NIL "b" "x.example") (NIL NIL NIL NIL))'),
      reply,
    );
    assert.ok(reply.includes('(("Carol" NIL "c" "x.example"))'), reply);
  });

  it("counts a body's line breaks, not a last line without one", async () => {
    const reply = await talk.command('FETCH 2:4 BODYSTRUCTURE');
    assert.match(
      reply,
      /\("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 42 0 NIL NIL NIL NIL\)/,
      'a part before its boundary',
    );
    assert.match(
      reply,
      /"MESSAGE" "RFC822" NIL NIL NIL "7BIT" 29 \(.*\) \("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 10 0 NIL NIL NIL NIL\) 2 /,
      'the encapsulated message: two line breaks',
    );
    assert.match(
      reply,
      /\* 4 FETCH \(BODYSTRUCTURE \("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 18 1 /,
      'two lines, the last without CRLF',
    );
  });

  it('gives a multipart without parts one empty text part', async () => {
    const reply = await talk.command('FETCH 3 (BODYSTRUCTURE BODY[1] BODY[TEXT])');
    assert.ok(
      reply.includes(
        'BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED"',
      ),
      reply,
    );
    assert.ok(reply.includes('BODY[1] {0}\r\n'), reply);
    assert.ok(reply.includes('BODY[TEXT] {15}\r\nno parts at all'), reply);
  });

  it('answers a part that does not exist with an empty string, as Dovecot', async () => {
    const reply = await talk.command(
      'FETCH 2 (BODY[4] BODY[1.1] BODY[3.HEADER] BODY[9.MIME] BINARY[4] BINARY.SIZE[4] BODY[4]<0.10>)',
    );
    for (const item of ['BODY[4]', 'BODY[1.1]', 'BODY[3.HEADER]', 'BODY[9.MIME]', 'BINARY[4]', 'BODY[4]<0>'])
      assert.ok(reply.includes(`${item} {0}\r\n`) || reply.includes(`${item} ""`), `${item}: ${reply}`);
    assert.ok(reply.includes('BINARY.SIZE[4] 0'), reply);
    assert.ok(!reply.includes('NIL'), reply);
  });

  it('sends RFC 2231 parameters as the message has them to an IMAP4rev1 client (never 8-bit)', async () => {
    const reply = await talk.command('FETCH 2 BODYSTRUCTURE');
    assert.ok(reply.includes(`("NAME*" "UTF-8''%E2%82%AC.bin")`), reply);
    assert.ok(reply.includes(`("ATTACHMENT" ("FILENAME*" "UTF-8''%E2%82%AC.bin"))`), reply);
    assert.ok(![...reply].some((c) => c.charCodeAt(0) > 127), 'only ASCII');
  });

  it('decodes body parameters for a client that enabled UTF-8 (RFC 9051 §7.5.2)', async () => {
    const { talk: utf8 } = await ImapTalk.open(t.port('imaps'), { tls: true });
    try {
      await utf8.login('carol@test.example', password);
      assert.match(await utf8.command('ENABLE UTF8=ACCEPT'), /ENABLED UTF8=ACCEPT/);
      await utf8.command('EXAMINE INBOX');
      const reply = await utf8.command('FETCH 2 BODYSTRUCTURE');
      assert.ok(reply.includes(`("NAME*" "${euroUtf8AsLatin1}.bin")`), reply);
      // RFC 9051 asks only for sections to be joined in a disposition's parameters.
      assert.ok(reply.includes(`("ATTACHMENT" ("FILENAME*" "UTF-8''%E2%82%AC.bin"))`), reply);
    } finally {
      utf8.close();
    }
  });

  it('answers a message whose structure an older Holdfast stored as it answers a new one', async () => {
    // Message 4's stored structure was made old in before(); FETCH computed it again.
    const reply = await talk.command('FETCH 4 (ENVELOPE BODYSTRUCTURE)');
    assert.ok(reply.includes('(("Old Comment" NIL "b" "x.example"))'), reply);
    assert.match(reply, /BODYSTRUCTURE \("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 18 1 /, reply);
    const { db } = t.node.holdfast.store;
    const stored = await db.selectFrom('blob_metadata').select(['tree', 'envelope']).execute();
    const row = stored.find((r) => JSON.parse(r.envelope).subject === 'stored by an older Holdfast')!;
    assert.equal(JSON.parse(row.tree).format, 2, 'stored again in the current form');
  });
});

/**
 * Makes the stored structure of the content whose subject is `subject` what the version before
 * treeFormat 2 stored: no format, the last line counted, a comment before an address as its name.
 */
async function storeAsOldVersion(t: TestNode, subject: string) {
  const { db } = t.node.holdfast.store;
  const rows = await db.selectFrom('blob_metadata').select(['hash', 'tree', 'envelope']).execute();
  const row = rows.find((r) => JSON.parse(r.envelope).subject === subject)!;
  const { format: _, ...tree } = JSON.parse(row.tree);
  const envelope = { ...JSON.parse(row.envelope), from: [['Old Comment', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']] };
  await db
    .updateTable('blob_metadata')
    .set({ tree: JSON.stringify({ ...tree, lines: 2 }), envelope: JSON.stringify(envelope) })
    .where('hash', '=', row.hash)
    .execute();
}
