// What IMAP4rev1 clients rely on beyond RFC 9051: \Recent (RFC 3501 2.3.2: one session sees a
// message as recent, the first to SELECT its folder after it arrived; Dovecot's behaviour is the
// reference), a FLAGS response before any FETCH that shows a keyword new to the folder, and the
// untagged responses of EXAMINE and COPY; and what IMAP4rev2 sessions get instead (no \Recent, the
// folder's LIST at SELECT).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const run = promisify(execFile);
const password = 'Wonderland-42';
const message = (subject: string) => `From: bob@test.example\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;

/** imaplib, an IMAP4rev1 client: what SELECT, NOOP and SEARCH say about recent mail. */
const imaplibScript = `
import imaplib, json, ssl, sys
port, user, password, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m.login(user, password)
out = {}
m.select(folder)
out["recent"] = [x.decode() for x in m.response("RECENT")[1] if x]
out["new"] = m.search(None, "NEW")[1][0].decode()
out["old"] = m.search(None, "OLD")[1][0].decode()
out["flags"] = m.fetch("1", "(FLAGS)")[1][0].decode()
m.logout()
print(json.dumps(out))
`;
import { submission } from '../helpers/submission.ts';

for (const name of backendNames) {
  describe(`IMAP \\Recent and new keywords on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    const talks: ImapTalk[] = [];
    const open = async (user = 'erin@test.example') => {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      talks.push(talk);
      await talk.login(user, password);
      return talk;
    };
    const append = async (talk: ImapTalk, folder: string, text: string, flags = '') => {
      assert.match(
        await talk.command(`APPEND ${folder} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(text)}+}\r\n${text}`),
        /OK \[APPENDUID/,
      );
    };

    before(async () => {
      t = await startTestNode(name, { toml: '[queue]\npoll_interval = "100ms"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'erin@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
    });
    after(async () => {
      talks.forEach((talk) => talk.close());
      await t.stop();
    });

    it('shows new messages as recent to the first session that selects the folder, and only to it', async () => {
      const a = await open();
      await a.command('CREATE Recent');
      await append(a, 'Recent', message('one'), '\\Seen');
      await append(a, 'Recent', message('two'));

      // EXAMINE looks without taking them (RFC 3501 6.3.2).
      const b = await open();
      const examined = await b.command('EXAMINE Recent');
      assert.match(examined, /\* 2 EXISTS\r\n\* 2 RECENT\r\n/);
      assert.match(examined, /\[PERMANENTFLAGS \(\)\]/);
      assert.match(examined, /OK \[READ-ONLY\]/);
      assert.match(
        await b.command('FETCH 1:* (FLAGS)'),
        /\* 1 FETCH \(FLAGS \(\\Seen \\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)/,
      );

      const selected = await a.command('SELECT Recent');
      assert.match(selected, /\* 2 EXISTS\r\n\* 2 RECENT\r\n/);
      assert.doesNotMatch(selected, /PERMANENTFLAGS \([^)]*\\Recent/);
      assert.match(await a.command('SEARCH RECENT'), /\* SEARCH 1 2\r\n/);
      assert.match(await a.command('SEARCH NEW'), /\* SEARCH 2\r\n/);
      assert.match(await a.command('SEARCH OLD'), /\* SEARCH\r\n/);

      // Taken: a later SELECT sees none recent.
      const c = await open();
      assert.match(await c.command('SELECT Recent'), /\* 2 EXISTS\r\n\* 0 RECENT\r\n/);
      assert.match(await c.command('FETCH 2 (FLAGS)'), /\* 2 FETCH \(FLAGS \(\)\)/);
      assert.match(await c.command('SEARCH OLD'), /\* SEARCH 1 2\r\n/);

      // Mail another session appends or copies in is recent to the first selecting session that hears
      // of it (at its next NOOP), not to the others.
      await append(b, 'Recent', message('three'));
      const heard = await a.command('NOOP');
      assert.match(heard, /\* 3 EXISTS\r\n\* 3 RECENT\r\n/);
      assert.match(await c.command('NOOP'), /\* 3 EXISTS\r\n\S+ OK/);
      // The read-only session copies: it sees the copy as recent without taking it.
      assert.match(await b.command('COPY 1 Recent'), /\* 4 EXISTS\r\n\* 4 RECENT\r\n[\s\S]*OK \[COPYUID \d+ 1 4\]/);
      assert.match(await a.command('NOOP'), /\* 4 EXISTS\r\n\* 4 RECENT\r\n/);
      assert.match(await a.command('FETCH 4 (FLAGS)'), /\* 4 FETCH \(FLAGS \(\\Seen \\Recent\)\)/);
      assert.match(await c.command('NOOP'), /\* 4 EXISTS\r\n\S+ OK/);
      assert.match(await c.command('FETCH 4 (FLAGS)'), /\* 4 FETCH \(FLAGS \(\\Seen\)\)/);
      assert.match(await a.command('STORE 1 +FLAGS (\\Recent)'), /BAD/);
    });

    it('gives IMAP4rev2 sessions no \\Recent, and they take none from IMAP4rev1 sessions', async () => {
      const rev2 = await open();
      await rev2.command('CREATE Rev2');
      await append(rev2, 'Rev2', message('one'));
      assert.match(await rev2.command('ENABLE IMAP4rev2'), /ENABLED IMAP4REV2/i);
      const selected = await rev2.command('SELECT Rev2');
      assert.doesNotMatch(selected, /RECENT/);
      assert.match(await rev2.command('FETCH 1 (FLAGS)'), /\* 1 FETCH \(FLAGS \(\)\)/);
      const rev1 = await open();
      assert.match(await rev1.command('SELECT Rev2'), /\* 1 RECENT\r\n/);
    });

    it("answers an IMAP4rev2 session's SELECT and EXAMINE with the folder's LIST, and IMAP4rev1's without", async () => {
      const rev2 = await open();
      await rev2.command('CREATE Rev2/Child');
      assert.match(await rev2.command('ENABLE IMAP4rev2'), /ENABLED IMAP4REV2/i);
      // RFC 9051 6.3.2: LIST is required, its attributes as LIST gives them, the name as the client uses it.
      assert.match(await rev2.command('SELECT Rev2'), /\* LIST \(\\HasChildren\) "\/" "Rev2"\r\n/);
      assert.match(await rev2.command('EXAMINE inbox'), /\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
      assert.match(await rev2.command('SELECT Sent'), /\* LIST \(\\HasNoChildren \\Sent\) "\/" "Sent"\r\n/);
      const rev1 = await open();
      assert.doesNotMatch(await rev1.command('SELECT Rev2'), /\* LIST/);
    });

    it('counts delivered mail as recent to imaplib, at SELECT and at NOOP during a session', async () => {
      const send = (subject: string) =>
        submission(t.port('submissions'), 'bob@test.example', password).sendMail({
          from: 'bob@test.example',
          to: 'erin@test.example',
          subject,
          text: 'Hello.',
        });
      const inbox = async (count: number) =>
        t.waitFor(async () => (await t.mailbox('erin@test.example')).length >= count, `${count} messages in the INBOX`);
      const watcher = await open();
      // Opened read-only, it leaves the mail recent for imaplib.
      await watcher.command('EXAMINE INBOX');
      await send('first');
      await inbox(1);
      assert.match(await watcher.command('NOOP'), /\* 1 EXISTS\r\n\* 1 RECENT\r\n/);
      const { stdout } = await run('python3', [
        '-c',
        imaplibScript,
        String(t.port('imaps')),
        'erin@test.example',
        password,
        'INBOX',
      ]);
      const out = JSON.parse(stdout);
      assert.deepEqual(out.recent, ['1']);
      assert.equal(out.new, '1');
      assert.equal(out.old, '');
      assert.match(out.flags, /FLAGS \(\\Recent\)/);
      // imaplib took it: the next selecting session sees it as old, and a delivery during its session is recent to it.
      const later = await open();
      assert.match(await later.command('SELECT INBOX'), /\* 1 EXISTS\r\n\* 0 RECENT\r\n/);
      await send('second');
      await inbox(2);
      assert.match(await later.command('NOOP'), /\* 2 EXISTS\r\n\* 1 RECENT\r\n/);
      assert.match(await later.command('SEARCH NEW'), /\* SEARCH 2\r\n/);
      // The read-only watcher saw the first as recent without taking it; the second was taken before it looked.
      assert.match(await watcher.command('NOOP'), /\* 2 EXISTS\r\n\S+ OK/);
      assert.match(await watcher.command('SEARCH RECENT'), /\* SEARCH 1\r\n/);
    });

    it('answers EXAMINE and COPY with the responses RFC 3501, 7162 and UIDPLUS ask for, as Dovecot does', async () => {
      const a = await open();
      await a.command('CREATE Copies');
      for (const subject of ['one', 'two', 'three']) await append(a, 'INBOX', message(subject));
      await a.command('SELECT INBOX');
      const examined = await a.command('EXAMINE Copies (CONDSTORE)');
      // Leaving INBOX is marked, nothing may be changed (no \*), and CONDSTORE gets HIGHESTMODSEQ.
      assert.match(examined, /^\* OK \[CLOSED\] /);
      assert.match(examined, /\* OK \[PERMANENTFLAGS \(\)\] /);
      assert.match(examined, /\* OK \[HIGHESTMODSEQ \d+\] /);
      assert.match(examined, /OK \[READ-ONLY\] EXAMINE completed$/);
      await a.command('SELECT INBOX');
      assert.match(await a.command('COPY 1:3 Copies'), /OK \[COPYUID \d+ 1:3 1:3\] COPY completed/);
    });

    it('announces FLAGS and PERMANENTFLAGS before any FETCH that shows a keyword new to the folder', async () => {
      const a = await open();
      await a.command('CREATE Keywords');
      await append(a, 'Keywords', message('one'));
      await append(a, 'Keywords', message('two'));
      const b = await open();
      assert.match(
        await a.command('SELECT Keywords'),
        /\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft\)\r\n/,
      );
      await b.command('SELECT Keywords');

      // The session's own STORE: FLAGS first, then the FETCH.
      const stored = await a.command('STORE 1 +FLAGS ($Work)');
      assert.match(
        stored,
        /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Work\)\r\n\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Work \\\*\)\] [^\r]*\r\n\* 1 FETCH \(FLAGS \(\$Work \\Recent\)\)\r\n/,
      );
      // Known now: not announced again.
      assert.doesNotMatch(await a.command('STORE 2 +FLAGS ($Work)'), /\* FLAGS/);

      // Another session's STORE, heard at NOOP.
      const heard = await b.command('NOOP');
      assert.match(
        heard,
        /^\* FLAGS \([^)]*\$Work\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Work \\\*\)\] [^\r]*\r\n\* 1 FETCH \(UID 1 FLAGS \(\$Work\)\)\r\n/,
      );

      // A FETCH that runs before the session has heard of the change still comes after FLAGS.
      await a.command('STORE 1 +FLAGS ($Urgent)');
      const fetched = await b.command('FETCH 1 (FLAGS)');
      assert.match(
        fetched,
        /^\* FLAGS \([^)]*\$Urgent[^)]*\)\r\n\* OK \[PERMANENTFLAGS [^\r]*\r\n\* 1 FETCH \(FLAGS \(\$Urgent \$Work\)\)\r\n/,
      );
      assert.doesNotMatch(await b.command('NOOP'), /\* FLAGS/);

      // APPEND with a new keyword by another session; an EXAMINE session gets PERMANENTFLAGS ().
      const reader = await open();
      await reader.command('EXAMINE Keywords');
      await append(a, 'Keywords', message('three'), '$Later');
      const appended = await b.command('NOOP');
      assert.match(appended, /^\* FLAGS \([^)]*\$Later[^)]*\)\r\n\* OK \[PERMANENTFLAGS [^\r]*\r\n\* 3 EXISTS\r\n/);
      assert.match(
        await reader.command('NOOP'),
        /^\* FLAGS \([^)]*\$Later[^)]*\)\r\n\* OK \[PERMANENTFLAGS \(\)\] [^\r]*\r\n\* 3 EXISTS\r\n/,
      );
    });
  });
}
