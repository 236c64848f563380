// Python's imaplib, an IMAP4rev1 client as many scripts and migration tools use it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const run = promisify(execFile);
const password = 'Wonderland-42';

const script = String.raw`
import imaplib, json, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port)
m.starttls(ssl_context=ctx)
out["login"] = m.login(user, password)[0]
out["folders"] = [line.decode() for line in m.list()[1]]
typ, data = m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1700000000), b"From: dave@test.example\r\nSubject: =?utf-8?q?K=C3=A4se?=\r\n\r\nCheese report.\r\n")
out["append"] = typ
typ, data = m.select("INBOX")
out["exists"] = int(data[0])
out["search"] = m.search(None, "SUBJECT", "Cheese")[1][0].decode()
out["search_body"] = m.search(None, "BODY", "report")[1][0].decode()
typ, data = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
out["fetch"] = data[0][0].decode()
out["header"] = data[0][1].decode()
typ, data = m.fetch("1", "(RFC822.HEADER FLAGS)")
out["rfc822_header"] = [typ, data[0][1].decode(), data[0][0].decode()]
typ, data = m.fetch("1", "(RFC822.TEXT)")
out["rfc822_text"] = [typ, data[0][1].decode()]
typ, data = m.fetch("1", "(RFC822)")
out["rfc822"] = [typ, data[0][1].decode()]
out["seen"] = m.fetch("1", "(FLAGS)")[1][0].decode()
out["store"] = m.store("1", "+FLAGS", "\\Deleted")[0]
out["copy"] = m.copy("1", "Archive")[0]
out["expunge"] = [x.decode() for x in m.expunge()[1] if x]
out["status"] = m.status("Archive", "(MESSAGES UIDNEXT)")[1][0].decode()
m.create("&AMQ-nderungen")
out["utf7"] = [line.decode() for line in m.list('""', "*nderungen")[1]]
m.logout()
print(json.dumps(out))
`;

for (const name of backendNames) {
  describe(`IMAP with Python imaplib on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'dave@test.example', password });
    });
    after(() => t.stop());

    it('logs in after STARTTLS, appends, searches, fetches, copies and expunges', async () => {
      const { stdout } = await run('python3', ['-c', script, String(t.port('imap')), 'dave@test.example', password]);
      const out = JSON.parse(stdout);
      assert.equal(out.login, 'OK');
      assert.ok(
        out.folders.some((f: string) => f.includes('\\Sent') && f.endsWith('"Sent"')),
        out.folders.join('\n'),
      );
      assert.equal(out.append, 'OK');
      assert.equal(out.exists, 1);
      assert.equal(out.search, '');
      assert.equal(out.search_body, '1');
      // Recent to imaplib, the first to select the folder, whatever the internal date it was appended with.
      assert.match(out.fetch, /FLAGS \(\\Flagged \\Recent\) INTERNALDATE "14-Nov-2023 22:13:20 \+0000"/);
      assert.equal(out.header, 'Subject: =?utf-8?q?K=C3=A4se?=\r\n\r\n');
      // RFC822.* (IMAP4rev1, as fetchmail and imaplib scripts use them): HEADER does not set \Seen, TEXT does.
      assert.deepEqual(out.rfc822_header.slice(0, 2), [
        'OK',
        'From: dave@test.example\r\nSubject: =?utf-8?q?K=C3=A4se?=\r\n\r\n',
      ]);
      assert.doesNotMatch(out.rfc822_header[2], /\\Seen/);
      assert.deepEqual(out.rfc822_text, ['OK', 'Cheese report.\r\n']);
      assert.deepEqual(out.rfc822, [
        'OK',
        'From: dave@test.example\r\nSubject: =?utf-8?q?K=C3=A4se?=\r\n\r\nCheese report.\r\n',
      ]);
      assert.match(out.seen, /\\Seen/);
      assert.equal(out.store, 'OK');
      assert.equal(out.copy, 'OK');
      assert.deepEqual(out.expunge, ['1']);
      assert.match(out.status, /"Archive" \(MESSAGES 1 UIDNEXT 2\)/);
      // Non-ASCII folder names travel as modified UTF-7 to a client that has not enabled UTF-8.
      assert.match(out.utf7[0], /"&AMQ-nderungen"$/);
    });
  });
}
