// POP3 as devices and migration tools use it: Python's poplib over STLS (110) and implicit TLS
// (995), on mail delivered over SMTP into the same INBOX IMAP shows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';

const run = promisify(execFile);
const password = 'Wonderland-42';

const script = `
import poplib, json, ssl, sys
port, tls_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
p = poplib.POP3("127.0.0.1", port)
out["capa_before"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["capa_after"] = sorted(p.capa().keys())
p.user(user)
out["pass"] = p.pass_(password).decode()
out["stat"] = list(p.stat())
out["list"] = [x.decode() for x in p.list()[1]]
out["uidl"] = [x.decode() for x in p.uidl()[1]]
out["top"] = [x.decode() for x in p.top(1, 1)[1]]
out["retr"] = [x.decode() for x in p.retr(2)[1]]
out["dele"] = p.dele(1).decode()
try:
    p.retr(1)
except poplib.error_proto as e:
    out["retr_deleted"] = str(e)
out["stat_after_dele"] = list(p.stat())
# A second session is refused while this one holds the mailbox.
q = poplib.POP3_SSL("127.0.0.1", tls_port, context=ctx)
q.user(user)
try:
    q.pass_(password)
except poplib.error_proto as e:
    out["second"] = str(e)
q.quit()
out["quit"] = p.quit().decode()
r = poplib.POP3_SSL("127.0.0.1", tls_port, context=ctx)
r.user(user)
r.pass_(password)
out["stat_next_session"] = list(r.stat())
out["uidl_next_session"] = [x.decode() for x in r.uidl()[1]]
r.dele(1)
r.rset()
r.quit()
print(json.dumps(out))
`;
import { submission } from '../helpers/submission.ts';

for (const name of backendNames) {
  describe(`POP3 with Python poplib on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name, { toml: '[queue]\npoll_interval = "100ms"\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'erin@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'fred@test.example', password });
      const transport = submission(t.port('submissions'), 'fred@test.example', password);
      await transport.sendMail({
        from: 'fred@test.example',
        to: 'erin@test.example',
        subject: 'First',
        text: 'line one\n.line with a leading dot\nline three\n',
      });
      await transport.sendMail({
        from: 'fred@test.example',
        to: 'erin@test.example',
        subject: 'Second',
        text: 'second body\n',
      });
      await t.waitFor(async () => (await t.mailbox('erin@test.example')).length === 2, 'two messages for erin');
    });
    after(() => t.stop());

    it('lists, reads, deletes on QUIT only, and locks the mailbox meanwhile', async () => {
      const stored = await t.mailbox('erin@test.example');
      const { stdout } = await run('python3', [
        '-c',
        script,
        String(t.port('pop3')),
        String(t.port('pop3s')),
        'erin@test.example',
        password,
      ]);
      const out = JSON.parse(stdout);
      assert.ok(out.capa_before.includes('STLS'));
      assert.ok(!out.capa_before.includes('USER'), 'no passwords before TLS');
      assert.ok(out.capa_after.includes('USER') && out.capa_after.includes('UIDL') && out.capa_after.includes('TOP'));
      assert.match(out.pass, /^\+OK erin@test\.example has 2 messages/);
      assert.deepEqual(out.stat, [2, stored.reduce((sum, m) => sum + Buffer.byteLength(m.text), 0)]);
      assert.deepEqual(
        out.list,
        stored.map((m, i) => `${i + 1} ${Buffer.byteLength(m.text)}`),
      );
      assert.match(out.uidl[0], /^1 \d+\.1$/);
      // TOP 1 1: the header, the blank line and one body line.
      assert.ok(out.top.includes('Subject: First'));
      assert.equal(out.top.at(-1), 'line one');
      // RETR undoes the dot-stuffing: the body reads as sent.
      assert.ok(out.retr.includes('Subject: Second'));
      assert.ok(out.retr.includes('second body'));
      assert.match(out.dele, /^\+OK/);
      assert.match(out.retr_deleted, /-ERR No message 1 \(deleted\)/);
      assert.equal(out.stat_after_dele[0], 1);
      assert.match(out.second, /-ERR \[IN-USE\]/);
      assert.match(out.quit, /1 messages deleted/);
      assert.equal(out.stat_next_session[0], 1);
      assert.match(out.uidl_next_session[0], /^1 \d+\.2$/, 'the second message keeps its unique id');
      // RSET in the last session undid its DELE.
      assert.equal((await t.mailbox('erin@test.example')).length, 1);
    });

    it('keeps dot-stuffed lines intact', async () => {
      const transport = submission(t.port('submissions'), 'fred@test.example', password);
      await transport.sendMail({
        from: 'fred@test.example',
        to: 'fred@test.example',
        subject: 'Dots',
        text: '.\n..two\nend\n',
      });
      await t.waitFor(async () => (await t.mailbox('fred@test.example')).length === 1, 'a message for fred');
      const { talk, greeting } = await Pop3Talk.open(t.port('pop3'));
      assert.match(greeting, /^\+OK Holdfast POP3 server ready/);
      // Passwords are refused before STLS on port 110; commands out of place are named.
      assert.match(await talk.send('USER fred@test.example'), /^-ERR \[AUTH\] Log in over TLS/);
      assert.match(await talk.send('FROB'), /^-ERR Unknown command FROB/);
      assert.match(await talk.send('STAT'), /^-ERR STAT is not allowed before logging in/);
      assert.match(await talk.startTls(), /^\+OK/);
      assert.match(await talk.send('USER fred@test.example'), /^\+OK/);
      assert.match(await talk.send('PASS wrong-password'), /^-ERR \[AUTH\] Invalid user name or password/);
      assert.match(
        await talk.send(`AUTH PLAIN ${Buffer.from(`\0fred@test.example\0${password}`).toString('base64')}`),
        /^\+OK fred@test\.example has 1 messages/,
      );
      assert.match(await talk.send('RETR 1'), /^\+OK \d+ octets/);
      const body = await talk.multiline();
      // Lines starting with "." go out with one more dot; the response ends with CRLF "." CRLF.
      assert.match(body, /\r\n\.\.\r\n\.\.\.two\r\nend\r\n\.\r\n$/);
      assert.match(await talk.send('RETR 9'), /^-ERR No message 9/);
      assert.match(await talk.send('TOP 1 x'), /^-ERR TOP needs a message number and a number of lines/);
      assert.match(await talk.send('QUIT'), /^\+OK .*\(0 messages deleted\)/);
      talk.close();
    });
  });
}
