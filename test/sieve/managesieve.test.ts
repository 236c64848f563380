// ManageSieve (RFC 5804) on both backends: a raw client over a real socket walks the protocol
// (capabilities, STARTTLS, AUTHENTICATE PLAIN only over TLS, literals, every script command and its
// response codes, the login limiter), a script it activates then files mail arriving by SMTP (read back
// over IMAP), and Debian's sieve-connect uploads, lists, activates and downloads (skipped if absent).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const sieveConnect = '/usr/bin/sieve-connect';

/** A ManageSieve client speaking the protocol line by line: each call returns the lines up to OK/NO/BYE. */
class SieveTalk {
  private buffer = '';
  private waiting: (() => void) | undefined;

  private constructor(private socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  static async open(port: number): Promise<{ talk: SieveTalk; greeting: string[] }> {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const talk = new SieveTalk(socket);
    return { talk, greeting: await talk.response() };
  }

  private listen(socket: Socket | TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.waiting?.();
    });
  }

  /** Lines up to and including the one starting OK, NO or BYE (a literal's content is kept whole). */
  async response(): Promise<string[]> {
    for (;;) {
      const lines: string[] = [];
      let rest = this.buffer;
      let done = false;
      while (rest.includes('\r\n')) {
        const end = rest.indexOf('\r\n');
        let line = rest.slice(0, end);
        rest = rest.slice(end + 2);
        const literal = /\{(\d+)\}$/.exec(line);
        if (literal) {
          const size = Number(literal[1]);
          if (Buffer.byteLength(rest) < size) break;
          line += `\r\n${rest.slice(0, size)}`;
          rest = rest.slice(size);
        }
        lines.push(line);
        if (/^(OK|NO|BYE)\b/.test(line)) {
          done = true;
          break;
        }
      }
      if (done) {
        this.buffer = rest;
        return lines;
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  /** One line as it comes (a SASL challenge is not a response). */
  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  write(line: string) {
    this.socket.write(`${line}\r\n`);
  }

  async send(line: string): Promise<string[]> {
    this.socket.write(`${line}\r\n`);
    return this.response();
  }

  /** STARTTLS, then the capabilities the server sends again over TLS. */
  async startTls(): Promise<string[]> {
    const answer = await this.send('STARTTLS');
    assert.match(answer.at(-1)!, /^OK/);
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secured = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise((resolve) => secured.once('secureConnect', resolve));
    this.socket = secured;
    this.listen(secured);
    return this.response();
  }

  close() {
    this.socket.destroy();
  }
}

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
const literal = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;

for (const name of backendNames) {
  describe(`ManageSieve on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    before(async () => {
      j = await startJmapNode(name, [alice, 'bob@test.example']);
    });
    after(() => j.t.stop());

    it('offers PLAIN only over TLS, and manages scripts with the response codes of RFC 5804', async () => {
      const { talk, greeting } = await SieveTalk.open(j.t.port('managesieve'));
      try {
        assert.ok(greeting.includes('"IMPLEMENTATION" "Holdfast"'));
        assert.ok(greeting.includes('"STARTTLS"'));
        assert.ok(greeting.includes('"SASL" ""'), 'no mechanism before TLS');
        assert.match(greeting.find((l) => l.startsWith('"SIEVE"'))!, /fileinto .*vacation.*include/);
        assert.match(
          (await talk.send(`AUTHENTICATE "PLAIN" "${plain(alice, password)}"`)).at(-1)!,
          /^NO \(ENCRYPT-NEEDED\)/,
        );
        assert.match((await talk.send('LISTSCRIPTS')).at(-1)!, /^NO "LISTSCRIPTS needs AUTHENTICATE first"/);

        const overTls = await talk.startTls();
        assert.ok(overTls.includes('"SASL" "PLAIN"'));
        assert.ok(!overTls.includes('"STARTTLS"'));
        assert.match((await talk.send(`AUTHENTICATE "PLAIN" "${plain(alice, 'wrong')}"`)).at(-1)!, /^NO /);
        // Without an initial response: the server asks with an empty string, the client answers with one.
        talk.write('AUTHENTICATE "PLAIN"');
        assert.equal(await talk.line(), '""');
        assert.match((await talk.send(`"${plain(alice, password)}"`)).at(-1)!, /^OK "Authenticated"/);
        assert.ok((await talk.send('CAPABILITY')).includes('"OWNER" "alice@test.example"'));
      } finally {
        talk.close();
      }
    });

    it('stores, lists, activates, reads, checks, renames and deletes scripts, and the active one files mail', async () => {
      const { talk } = await SieveTalk.open(j.t.port('managesieve'));
      try {
        await talk.startTls();
        assert.match((await talk.send(`AUTHENTICATE "PLAIN" "${plain(alice, password)}"`)).at(-1)!, /^OK/);
        const script =
          'require ["fileinto", "mailbox"];\r\nif header :contains "subject" "[talk]" {\r\n  fileinto :create "Talk";\r\n}\r\n';
        assert.match((await talk.send(`HAVESPACE "rules" ${Buffer.byteLength(script)}`)).at(-1)!, /^OK/);
        assert.match((await talk.send('HAVESPACE "rules" 999999999')).at(-1)!, /^NO \(QUOTA\/MAXSIZE\)/);
        assert.match((await talk.send(`PUTSCRIPT "rules" ${literal(script)}`)).at(-1)!, /^OK/);
        const bad = await talk.send(`PUTSCRIPT "bad" ${literal('require "fileinto";\r\nfileinto;\r\n')}`);
        // A text with quotes comes as a literal.
        assert.match(bad.at(-1)!, /^NO \{\d+\}\r\nscript "bad" has an error: line 2: fileinto: expected 1 argument/);
        assert.match(
          (await talk.send(`CHECKSCRIPT ${literal('frob;')}`)).at(-1)!,
          /^NO \{\d+\}\r\nline 1: unknown command "frob"/,
        );
        assert.match((await talk.send(`CHECKSCRIPT ${literal('keep;')}`)).at(-1)!, /^OK/);
        assert.match((await talk.send('SETACTIVE "missing"')).at(-1)!, /^NO \(NONEXISTENT\)/);
        assert.match((await talk.send('SETACTIVE "rules"')).at(-1)!, /^OK/);
        assert.match((await talk.send(`PUTSCRIPT "spare" "keep;"`)).at(-1)!, /^OK/);
        assert.deepEqual(await talk.send('LISTSCRIPTS'), ['"rules" ACTIVE', '"spare"', 'OK "Listscripts completed"']);
        const got = await talk.send('GETSCRIPT "rules"');
        assert.equal(got[0], `{${Buffer.byteLength(script)}}\r\n${script}`);
        assert.match((await talk.send('DELETESCRIPT "rules"')).at(-1)!, /^NO \(ACTIVE\)/);
        assert.match((await talk.send('RENAMESCRIPT "spare" "rules"')).at(-1)!, /^NO \(ALREADYEXISTS\)/);
        assert.match((await talk.send('RENAMESCRIPT "spare" "old"')).at(-1)!, /^OK/);
        assert.match((await talk.send('DELETESCRIPT "old"')).at(-1)!, /^OK/);
        assert.match((await talk.send('NOOP "t1"')).at(-1)!, /^OK \(TAG "t1"\)/);
        assert.match((await talk.send('FROB')).at(-1)!, /^NO "Unknown command FROB"/);
        assert.match((await talk.send('LOGOUT')).at(-1)!, /^OK/);
      } finally {
        talk.close();
      }
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: j.t.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      await transport.sendMail({
        envelope: { from: 'list@remote.example', to: [alice] },
        raw: `From: list@remote.example\r\nTo: ${alice}\r\nSubject: [talk] hello\r\nMessage-ID: <ms1@remote.example>\r\n\r\nHi\r\n`,
      });
      transport.close();
      await j.t.waitFor(async () => (await j.t.mailbox(alice, 'Talk')).length === 1, 'the message filed into Talk');
      await j.withImap(async (client) => {
        const status = await client.status('Talk', { messages: true });
        assert.ok(status);
        assert.equal(status.messages, 1);
      }, alice);
    });

    it('UNAUTHENTICATE (RFC 5804 2.14.1) forgets the user: scripts need AUTHENTICATE again, as another user too', async () => {
      const { talk, greeting } = await SieveTalk.open(j.t.port('managesieve'));
      try {
        assert.ok(greeting.includes('"UNAUTHENTICATE"'));
        assert.match((await talk.send('UNAUTHENTICATE')).at(-1)!, /^NO "Not authenticated"/);
        await talk.startTls();
        assert.match((await talk.send(`AUTHENTICATE "PLAIN" "${plain(alice, password)}"`)).at(-1)!, /^OK/);
        assert.match((await talk.send(`PUTSCRIPT "alices" "keep;"`)).at(-1)!, /^OK/);
        assert.match((await talk.send('UNAUTHENTICATE "x"')).at(-1)!, /^NO "UNAUTHENTICATE takes no arguments"/);
        assert.match((await talk.send('UNAUTHENTICATE')).at(-1)!, /^OK "Unauthenticate completed"/);
        assert.match((await talk.send('LISTSCRIPTS')).at(-1)!, /^NO "LISTSCRIPTS needs AUTHENTICATE first"/);
        const capabilities = await talk.send('CAPABILITY');
        assert.ok(capabilities.includes('"SASL" "PLAIN"'), 'PLAIN offered again');
        assert.ok(!capabilities.some((l) => l.startsWith('"OWNER"')));
        assert.match(
          (await talk.send(`AUTHENTICATE "PLAIN" "${plain('bob@test.example', password)}"`)).at(-1)!,
          /^OK "Authenticated"/,
        );
        assert.ok((await talk.send('CAPABILITY')).includes('"OWNER" "bob@test.example"'));
        const bobs = await talk.send('LISTSCRIPTS');
        assert.ok(!bobs.some((l) => l.includes('alices')), "bob does not see alice's script");
        assert.match((await talk.send('DELETESCRIPT "alices"')).at(-1)!, /^NO \(NONEXISTENT\)/);
      } finally {
        talk.close();
      }
    });

    it('counts failed logins with the limiter IMAP uses', async () => {
      const { talk } = await SieveTalk.open(j.t.port('managesieve'));
      try {
        await talk.startTls();
        let last = '';
        for (let i = 0; i < 8; i++)
          last = (await talk.send(`AUTHENTICATE "PLAIN" "${plain('bob@test.example', `wrong${i}`)}"`)).at(-1)!;
        assert.match(last, /^NO \(TRYLATER\)/);
      } finally {
        talk.close();
      }
    });

    it('works with sieve-connect', {
      skip: existsSync(sieveConnect) ? false : 'sieve-connect is not installed (apt-get install sieve-connect)',
    }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'holdfast-sieve-connect-'));
      try {
        const file = join(dir, 'vacation.sieve');
        await writeFile(file, 'require "vacation";\nvacation :days 3 "Away this week.";\n');
        const run = (args: string[]) =>
          new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(
              sieveConnect,
              [
                ...['--server', '127.0.0.1', '--port', String(j.t.port('managesieve')), '--user', alice],
                ...['--passwordfd', '3', '--notlsverify', '--noclearauth', ...args],
              ],
              // The password on descriptor 3, as --passwordfd reads it.
              { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
            );
            let stdout = '';
            let stderr = '';
            child.stdout!.on('data', (d) => (stdout += d));
            child.stderr!.on('data', (d) => (stderr += d));
            (child.stdio[3] as NodeJS.WritableStream).end(`${password}\n`);
            const timer = setTimeout(() => child.kill(), 20_000);
            child.on('close', (code) => {
              clearTimeout(timer);
              resolve({ code: code ?? 1, stdout, stderr });
            });
          });
        const up = await run(['--upload', '--localsieve', file, '--remotesieve', 'away']);
        assert.equal(up.code, 0, up.stderr);
        assert.equal((await run(['--activate', '--remotesieve', 'away'])).code, 0);
        const list = await run(['--list']);
        assert.match(list.stdout, /^"away" ACTIVE$/m);
        const out = join(dir, 'back.sieve');
        assert.equal((await run(['--download', '--remotesieve', 'away', '--localsieve', out])).code, 0);
        assert.match(await readFile(out, 'utf8'), /Away this week\./);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
