// The IMAP protocol byte by byte: RFC 9051 responses, literals, bad input, CONDSTORE/QRESYNC and
// several sessions on one folder, over raw sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

const simple = [
  'From: Fred Foobar <foobar@Blurdybloop.example>',
  'Subject: afternoon meeting',
  'To: mooch@owatagu.siam.edu.example',
  'Message-Id: <B27397-0100000@Blurdybloop.example>',
  'MIME-Version: 1.0',
  'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
  '',
  'Hello Joe, do you think we can meet at 3:30 tomorrow?',
  '',
].join('\r\n');

const multipart = [
  'From: alice@test.example',
  'Subject: two parts',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'part one',
  '--b1',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  'AAEC',
  '--b1--',
  '',
].join('\r\n');

for (const name of backendNames) {
  describe(`IMAP protocol on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    const talks: ImapTalk[] = [];
    const open = async (options: { tls?: boolean; login?: boolean } = {}) => {
      const { talk, greeting } = await ImapTalk.open(t.port(options.tls === false ? 'imap' : 'imaps'), {
        tls: options.tls !== false,
      });
      talks.push(talk);
      if (options.login !== false) await talk.login('carol@test.example', password);
      return { talk, greeting };
    };
    const append = async (talk: ImapTalk, folder: string, message: string) => {
      const reply = await talk.command(`APPEND ${folder} {${Buffer.byteLength(message)}+}\r\n${message}`);
      assert.match(reply, /OK \[APPENDUID \d+ \d+\]/);
    };

    before(async () => {
      t = await startTestNode(name, { toml: '[imap]\nappend_limit = "64KB"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'carol@test.example', password });
      const { talk } = await open();
      await talk.command('CREATE Lab');
      await append(talk, 'Lab', simple);
      await append(talk, 'Lab', multipart);
    });
    after(async () => {
      talks.forEach((talk) => talk.close());
      await t.stop();
    });

    it('port 143 offers STARTTLS and takes passwords only after it', async () => {
      const { talk, greeting } = await open({ tls: false, login: false });
      assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*LOGINDISABLED/);
      assert.match(await talk.command(`LOGIN carol@test.example ${password}`), /NO \[PRIVACYREQUIRED\]/);
      assert.match(await talk.command('STARTTLS'), /OK Begin TLS/);
      await talk.startTls();
      const caps = await talk.command('CAPABILITY');
      assert.match(caps, /AUTH=PLAIN/);
      assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
      const initial = Buffer.from(`\0carol@test.example\0${password}`).toString('base64');
      assert.match(await talk.command(`AUTHENTICATE PLAIN ${initial}`), /OK \[CAPABILITY [^\]]*IDLE[^\]]*\] Logged in/);
    });

    it('AUTHENTICATE PLAIN without an initial response asks for it', async () => {
      const { talk } = await open({ login: false });
      talk.write('a1 AUTHENTICATE PLAIN\r\n');
      assert.equal(await talk.line(), '+ ');
      talk.write(`${Buffer.from(`\0carol@test.example\0${password}`).toString('base64')}\r\n`);
      assert.match(await talk.response('a1'), /a1 OK/);
    });

    it('answers malformed commands with BAD and a reason, and keeps the session', async () => {
      const { talk } = await open();
      assert.match(await talk.command('FROBNICATE'), /BAD Unknown command FROBNICATE/);
      assert.match(await talk.command('FETCH 1 FLAGS'), /BAD FETCH is not allowed without a selected folder/);
      assert.match(await talk.command('SELECT'), /BAD Missing folder name/);
      assert.match(await talk.command('LIST "" ("unbalanced"'), /BAD Unbalanced/);
      assert.match(await talk.command('SELECT "a\\b"'), /BAD Invalid escape/);
      assert.match(await talk.command('SELECT Nowhere'), /NO \[NONEXISTENT\]/);
      await talk.command('SELECT Lab');
      assert.match(await talk.command('FETCH 0:x FLAGS'), /BAD Invalid sequence set/);
      assert.match(await talk.command('FETCH 99 FLAGS'), /BAD Invalid message sequence number 99/);
      assert.match(await talk.command('FETCH 1 (FLAGS BODY[9.X])'), /BAD/);
      assert.match(await talk.command('STORE 1 FLAGS.LOUD (\\Seen)'), /BAD Unknown STORE action/);
      assert.match(await talk.command('SEARCH WHENEVER'), /BAD Unknown search criterion/);
      assert.match(await talk.command('NOOP'), /OK NOOP completed/);
    });

    it('answers BAD to a sequence number past the last message also beside "*", however large', async () => {
      const { talk } = await open();
      const exists = Number(/\* (\d+) EXISTS/.exec(await talk.command('SELECT Lab'))?.[1]);
      assert.ok(exists > 0);
      assert.match(
        await talk.command(`FETCH ${exists + 1}:* FLAGS`),
        new RegExp(`BAD Invalid message sequence number ${exists + 1} \\(the folder has ${exists} messages\\)`),
      );
      assert.match(await talk.command(`FETCH *:${exists + 5} FLAGS`), /BAD Invalid message sequence number/);
      // Sequence numbers up to that one were once walked one by one, until the server ran out of memory.
      assert.match(await talk.command('FETCH 4294967295:* FLAGS'), /BAD Invalid message sequence number 4294967295/);
      assert.match(await talk.command('STORE 4294967295:* +FLAGS (\\Seen)'), /BAD Invalid message sequence number/);
      assert.match(await talk.command('COPY 4294967295:* Lab'), /BAD Invalid message sequence number/);
      // UIDs are not positions: past the last one, n:* is the last message (RFC 9051 section 6.4.9).
      assert.match(
        await talk.command('UID FETCH 4294967295:* (FLAGS)'),
        new RegExp(`\\* ${exists} FETCH .*\\r\\n\\S+ OK`),
      );
      assert.match(
        await talk.command(`FETCH ${exists}:* (UID)`),
        new RegExp(`^\\* ${exists} FETCH \\(UID \\d+\\)\\r\\n\\S+ OK`),
      );
    });

    it('refuses an over-long line and oversized literals without reading them, then carries on', async () => {
      const { talk } = await open();
      talk.write(`a1 NOOP ${'x'.repeat(70_000)}\r\n`);
      assert.match(await talk.line(), /^a1 BAD Command line too long/);
      assert.match(await talk.command('NOOP'), /OK/);
      // A synchronising literal over the limit is refused before the client sends it.
      talk.write('a2 APPEND Lab {100000}\r\n');
      assert.match(await talk.line(), /^a2 NO \[TOOBIG\]/);
      assert.match(await talk.command('NOOP'), /OK/);
      // A non-synchronising one is skipped byte by byte.
      talk.write(`a3 APPEND Lab {70000+}\r\n${'y'.repeat(70_000)}\r\n`);
      assert.match(await talk.line(), /^a3 NO \[TOOBIG\]/);
      assert.match(await talk.command('NOOP'), /OK/);
      // Ordinary literals: synchronising (the server says "+") and LITERAL+.
      talk.write('a4 STATUS {3}\r\n');
      assert.match(await talk.line(), /^\+ /);
      talk.write('Lab (MESSAGES)\r\n');
      assert.match(await talk.response('a4'), /\* STATUS "Lab" \(MESSAGES 2\)\r\na4 OK/);
    });

    it('before login announces LITERAL- and holds a command to 8 KiB: a refused non-synchronizing literal ends the connection', async () => {
      const { talk, greeting } = await open({ tls: true, login: false });
      assert.match(greeting, / LITERAL- /);
      assert.doesNotMatch(greeting, /LITERAL\+/);
      // A synchronising literal over the limit is refused before the client sends it; the session goes on.
      talk.write('a1 LOGIN {9000}\r\n');
      assert.match(await talk.line(), /^a1 NO \[TOOBIG\] Before login a command may have at most 8192 bytes/);
      assert.match(await talk.command('NOOP'), /OK/);
      // A non-synchronising one over LITERAL-'s 4096 bytes is on its way already: BAD [TOOBIG], BYE, closed.
      talk.write(`a2 LOGIN {5000+}\r\n${'x'.repeat(5000)} {6+}\r\nsecret\r\n`);
      assert.match(
        await talk.line(),
        /^a2 BAD \[TOOBIG\] Before login a non-synchronizing literal may have at most 4096 bytes/,
      );
      assert.match(await talk.line(), /^\* BYE /);
      assert.match(await talk.line(), /connection closed/);
      // After login LITERAL+ is announced.
      const { talk: other } = await open();
      assert.match(await other.command('CAPABILITY'), /\* CAPABILITY [^\r]*LITERAL\+/);
    });

    it('fetches envelopes, body structures and sections as RFC 9051 describes', async () => {
      const { talk } = await open();
      await talk.command('EXAMINE Lab');
      const body = 'Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n';
      const one = await talk.command('FETCH 1 (ENVELOPE BODYSTRUCTURE RFC822.SIZE)');
      assert.ok(
        one.includes(
          '(ENVELOPE (NIL "afternoon meeting" (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) ' +
            '(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) ((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL "<B27397-0100000@Blurdybloop.example>") ' +
            `BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" ${body.length} 1 NIL NIL NIL NIL) RFC822.SIZE ${Buffer.byteLength(simple)})`,
        ),
        one,
      );
      const two = await talk.command(
        'FETCH 2 (BODYSTRUCTURE BODY[1] BODY[2.MIME] BINARY.SIZE[2] BODY[HEADER.FIELDS (SUBJECT FROM)] BODY[]<0.10>)',
      );
      assert.ok(
        two.includes(
          'BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 8 0 NIL NIL NIL NIL)' +
            '("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 4 NIL ("ATTACHMENT" ("FILENAME" "a.bin")) NIL NIL) "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)',
        ),
        two,
      );
      assert.ok(two.includes('BODY[1] {8}\r\npart one'), two);
      assert.match(two, /BODY\[2\.MIME\] \{\d+\}\r\nContent-Type: application\/octet-stream/);
      assert.ok(two.includes('BINARY.SIZE[2] 3'), two);
      assert.ok(
        two.includes(
          'BODY[HEADER.FIELDS (SUBJECT FROM)] {48}\r\nFrom: alice@test.example\r\nSubject: two parts\r\n\r\n',
        ),
        two,
      );
      assert.ok(two.includes('BODY[]<0> {10}\r\nFrom: alic'), two);
      // EXAMINE is read-only: reading a body did not set \Seen.
      assert.match(await talk.command('FETCH 1:2 FLAGS'), /\* 1 FETCH \(FLAGS \(\)\)\r\n\* 2 FETCH \(FLAGS \(\)\)/);
    });

    it('reports changes between sessions in protocol order, and no EXPUNGE during FETCH', async () => {
      const { talk: a } = await open();
      const { talk: b } = await open();
      await a.command('CREATE Shared-Work');
      await append(a, 'Shared-Work', simple);
      await append(a, 'Shared-Work', simple);
      await a.command('SELECT Shared-Work');
      await b.command('SELECT Shared-Work');
      await a.command('STORE 1 +FLAGS.SILENT (\\Flagged)');
      assert.match(await b.command('NOOP'), /\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)/);
      await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
      await a.command('EXPUNGE');
      await append(a, 'Shared-Work', simple);
      // FETCH may not shift sequence numbers: the expunge waits, the new message is announced.
      const during = await b.command('FETCH 1 (UID)');
      assert.doesNotMatch(during, /EXPUNGE/);
      assert.match(during, /\* 3 EXISTS/);
      const later = await b.command('NOOP');
      assert.match(later, /\* 1 EXPUNGE/);
      assert.match(await b.command('FETCH 1:* (UID)'), /\* 1 FETCH \(UID 2\)\r\n\* 2 FETCH \(UID 3\)/);
    });

    it('supports CONDSTORE and QRESYNC resynchronisation', async () => {
      const { talk } = await open();
      await talk.command('CREATE Sync');
      for (let i = 0; i < 3; i++) await append(talk, 'Sync', simple);
      const selected = await talk.command('SELECT Sync (CONDSTORE)');
      const [, validity] = /UIDVALIDITY (\d+)/.exec(selected)!;
      const [, modseq] = /HIGHESTMODSEQ (\d+)/.exec(selected)!;
      const stored = await talk.command(`UID STORE 1 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Seen)`);
      // This IMAP4rev1 session is the first to select the folder: the new messages are \Recent to it.
      assert.match(stored, /\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)/);
      // Stale UNCHANGEDSINCE: the message is left alone and named as MODIFIED.
      assert.match(await talk.command(`UID STORE 1 (UNCHANGEDSINCE ${modseq}) -FLAGS (\\Seen)`), /OK \[MODIFIED 1\]/);
      assert.match(
        await talk.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq})`),
        /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)\r\n\S+ OK/,
      );
      await talk.command('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
      await talk.command('EXPUNGE');
      await talk.command('UNSELECT');

      const { talk: other } = await open();
      assert.match(await other.command('ENABLE QRESYNC'), /\* ENABLED QRESYNC/);
      const resync = await other.command(`SELECT Sync (QRESYNC (${validity} ${modseq} 1:3))`);
      assert.match(resync, /\* VANISHED \(EARLIER\) 3/);
      assert.match(resync, /\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)/);
      assert.match(
        await other.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`),
        /\* VANISHED \(EARLIER\) 3/,
      );
    });

    it('answers ESEARCH, SEARCHRES, LIST-STATUS, STATUS=SIZE, NAMESPACE, ID and QUOTA', async () => {
      const { talk } = await open();
      await talk.command('SELECT Lab');
      assert.match(
        await talk.command('SEARCH RETURN (MIN MAX COUNT) ALL'),
        /\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 2 COUNT 2/,
      );
      assert.match(await talk.command('UID SEARCH RETURN (SAVE) SUBJECT "two parts"'), /OK/);
      assert.match(await talk.command('UID FETCH $ (UID)'), /\* 2 FETCH \(UID 2\)/);
      assert.match(await talk.command('SEARCH OR SUBJECT meeting BODY "part one"'), /\* SEARCH 1 2/);
      assert.match(await talk.command('SEARCH NOT FROM alice'), /\* SEARCH 1\r\n/);
      assert.match(await talk.command('SEARCH LARGER 100000'), /\* SEARCH\r\n/);
      const status = await talk.command('LIST "" "L*" RETURN (STATUS (MESSAGES SIZE UIDNEXT))');
      assert.match(
        status,
        /\* LIST \(\\HasNoChildren\) "\/" "Lab"\r\n\* STATUS "Lab" \(MESSAGES 2 SIZE \d+ UIDNEXT 3\)/,
      );
      assert.match(await talk.command('NAMESPACE'), /\* NAMESPACE \(\("" "\/"\)\) NIL \(\("Shared\/" "\/"\)\)/);
      assert.match(await talk.command('ID ("name" "test")'), /\* ID \("name" "Holdfast"/);
      assert.match(await talk.command('GETQUOTAROOT INBOX'), /\* QUOTAROOT "INBOX"\r\n/);
      assert.match(await talk.command('LIST (SPECIAL-USE) "" "*"'), /\\Trash/);
    });

    it('keeps QUOTA usage right through APPEND, COPY, MOVE, EXPUNGE and DELETE, and refuses what would exceed it', async () => {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'quinn@test.example', password, quotaBytes: 20 * 1024 });
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      talks.push(talk);
      await talk.login('quinn@test.example', password);
      const usedKb = async () =>
        Number(/\* QUOTA "" \(STORAGE (\d+) 20\)/.exec(await talk.command('GETQUOTAROOT INBOX'))?.[1]);
      const message = `Subject: quota\r\n\r\n${'q'.repeat(4 * 1024 - 20)}\r\n`; // 4 KiB
      assert.equal(await usedKb(), 0);
      await append(talk, 'INBOX', message);
      await append(talk, 'INBOX', message);
      assert.equal(await usedKb(), 8, 'two appended');
      await talk.command('CREATE Keep');
      await talk.command('SELECT INBOX');
      assert.match(await talk.command('COPY 1 Keep'), /OK \[COPYUID/);
      assert.equal(await usedKb(), 12, 'a copy counts again');
      assert.match(await talk.command('MOVE 2 Keep'), /OK/);
      assert.equal(await usedKb(), 12, 'a move changes nothing');
      await talk.command('SELECT Keep');
      await talk.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
      await talk.command('EXPUNGE');
      assert.equal(await usedKb(), 8, 'an expunged message no longer counts');
      await talk.command('SELECT INBOX');
      assert.match(await talk.command('DELETE Keep'), /OK/);
      assert.equal(await usedKb(), 4, "a deleted folder's messages no longer count");
      const big = `Subject: big\r\n\r\n${'b'.repeat(17 * 1024)}\r\n`;
      assert.match(await talk.command(`APPEND INBOX {${big.length}+}\r\n${big}`), /NO \[OVERQUOTA\]/);
      assert.equal(await usedKb(), 4, 'a refused APPEND stores nothing');
    });

    it('applies the quota rule at the edge: an APPEND or COPY that brings usage exactly to the limit fits, nothing more does', async () => {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'edge@test.example', password, quotaBytes: 1200 });
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      talks.push(talk);
      await talk.login('edge@test.example', password);
      await append(talk, 'INBOX', `Subject: edge\r\n\r\n${'e'.repeat(400 - 19)}\r\n`); // 400 bytes
      await talk.command('CREATE Keep');
      await talk.command('SELECT INBOX');
      assert.match(await talk.command('COPY 1 Keep'), /OK \[COPYUID/, '800 of 1200');
      assert.match(await talk.command('COPY 1 Keep'), /OK \[COPYUID/, 'exactly 1200 of 1200: fits');
      assert.match(await talk.command('APPEND INBOX {1+}\r\nx'), /NO \[OVERQUOTA\]/, 'one byte more does not');
      assert.match(await talk.command('COPY 1 Keep'), /NO \[OVERQUOTA\]/);
    });

    it('sorts and threads (RFC 5256 SORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES)', async () => {
      const { talk } = await open();
      await talk.command('CREATE Threads');
      const mail = (id: string, date: string, from: string, subject: string, refs: string[] = [], size = 0) =>
        [
          `Message-ID: <${id}@test.example>`,
          `Date: ${date}`,
          `From: ${from}`,
          'To: carol@test.example',
          `Subject: ${subject}`,
          ...(refs.length
            ? [
                `In-Reply-To: <${refs.at(-1)}@test.example>`,
                `References: ${refs.map((r) => `<${r}@test.example>`).join(' ')}`,
              ]
            : []),
          '',
          `Body ${'x'.repeat(size)}`,
          '',
        ].join('\r\n');
      // Arrival order (sequence numbers 1..6) differs from the sent dates on purpose.
      await append(talk, 'Threads', mail('a', 'Mon, 02 Nov 2026 10:00:00 +0000', 'zed@test.example', 'Plans for [Q4]'));
      await append(
        talk,
        'Threads',
        mail('b', 'Mon, 02 Nov 2026 09:00:00 +0000', 'amy@test.example', 'Lunch?', [], 500),
      );
      await append(
        talk,
        'Threads',
        mail('c', 'Tue, 03 Nov 2026 10:00:00 +0000', 'bob@test.example', 'Re: Plans for [Q4]', ['a']),
      );
      await append(
        talk,
        'Threads',
        mail('d', 'Tue, 03 Nov 2026 11:00:00 +0000', 'amy@test.example', 'RE: Re: Plans for [Q4]', ['a', 'c']),
      );
      await append(
        talk,
        'Threads',
        mail('e', 'Wed, 04 Nov 2026 08:00:00 +0000', 'cat@test.example', 'Re: Plans for [Q4]', ['a']),
      );
      await append(
        talk,
        'Threads',
        mail('f', 'Wed, 04 Nov 2026 09:00:00 +0000', 'dan@test.example', 'Fwd: Lunch? (fwd)'),
      );
      await talk.command('SELECT Threads');
      const capabilities = await talk.command('CAPABILITY');
      assert.match(capabilities, / SORT /);
      assert.match(capabilities, /THREAD=ORDEREDSUBJECT THREAD=REFERENCES/);

      assert.match(await talk.command('SORT (DATE) UTF-8 ALL'), /\* SORT 2 1 3 4 5 6\r\n/);
      assert.match(await talk.command('SORT (REVERSE ARRIVAL) UTF-8 ALL'), /\* SORT 6 5 4 3 2 1\r\n/);
      // Base subjects: "lunch?" (2, 6) before "plans for [q4]" (1, 3, 4, 5); then by date.
      assert.match(await talk.command('SORT (SUBJECT DATE) UTF-8 ALL'), /\* SORT 2 6 1 3 4 5\r\n/);
      assert.match(await talk.command('SORT (FROM) US-ASCII SUBJECT plans'), /\* SORT 4 3 5 1\r\n/);
      // Equal sizes (3 and 5: one reference each) fall back to the newer date first.
      assert.match(await talk.command('UID SORT (SIZE REVERSE DATE) UTF-8 ALL'), /\* SORT 1 6 5 3 4 2\r\n/);

      assert.match(await talk.command('THREAD ORDEREDSUBJECT UTF-8 ALL'), /\* THREAD \(2 6\)\(1 \(3\)\(4\)\(5\)\)\r\n/);
      // By references: 3 and 5 answer 1, 4 answers 3; 6 joins 2 by subject.
      assert.match(await talk.command('THREAD REFERENCES UTF-8 ALL'), /\* THREAD \(2 6\)\(1 \(3 4\)\(5\)\)\r\n/);
      assert.match(await talk.command('THREAD REFERENCES UTF-8 FROM amy'), /\* THREAD \(2\)\(4\)\r\n/);

      assert.match(await talk.command('SORT (COLOUR) UTF-8 ALL'), /BAD Unknown sort criterion COLOUR/);
      assert.match(await talk.command('THREAD SPAGHETTI UTF-8 ALL'), /BAD Unknown threading algorithm SPAGHETTI/);
      assert.match(await talk.command('SORT (DATE) X-UNKNOWN ALL'), /NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
      assert.match(await talk.command('SEARCH CHARSET X-UNKNOWN ALL'), /NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
      assert.match(await talk.command('SORT (DATE) KOI8-R ALL'), /\* SORT [\d ]+\r\n/);
    });

    it('sorts subjects decoded and compared as i;ascii-casemap (RFC 5256 2.1)', async () => {
      const { talk } = await open();
      await talk.command('CREATE Subjects');
      for (const subject of ['_underscore first?', 'apple', '=?utf-8?q?Zebra?=', 'Banana']) {
        await append(talk, 'Subjects', `From: a@test.example\r\nSubject: ${subject}\r\n\r\nBody\r\n`);
      }
      await talk.command('SELECT Subjects');
      // APPLE, BANANA, ZEBRA, then "_" (0x5F) after the upper-case letters.
      assert.match(await talk.command('SORT (SUBJECT) UTF-8 ALL'), /\* SORT 2 4 3 1\r\n/);
    });
  });
}
