// The SMTP wire alone (protocols/smtp), in front of a scripted intake: pipelining and the order and
// batching of replies, STARTTLS with plain text injected behind it, AUTH exchanges, BDAT and DATA
// framing (dot-unstuffing, smuggling attempts), size limits without buffering, back pressure
// towards a slow consumer, timeouts and shutdown. The whole path with the real intake is in
// test/flow/smtp-intake.test.ts.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import selfsigned from 'selfsigned';
import type { Principal } from '../../src/directory/principal.ts';
import type { SessionInfo } from '../../src/flow/intake/intake.ts';
import { smtpReply } from '../../src/flow/intake/smtp-reply.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { SmtpSession, type SmtpIntake, type SmtpSessionConfig } from '../../src/protocols/smtp/smtp-session.ts';
import { plainAuth, SmtpTalk } from '../helpers/smtp-talk.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records what the wire asks of intake; refuses a few scripted addresses. */
class ScriptedIntake implements SmtpIntake {
  calls: string[] = [];
  messages: string[] = [];
  /** Bytes intake was handed of messages it did not accept. */
  partialBytes = 0;
  /** While set, data() reads nothing (a consumer that is not ready). */
  gate: Promise<void> | undefined;
  /** Keep only the size of each message, not its bytes. */
  countOnly = false;

  connect(info: SessionInfo) {
    this.calls.push(`connect secure=${info.secure}`);
  }
  update(_id: string, details: { helo?: string; secure?: boolean }) {
    this.calls.push(`update ${JSON.stringify(details)}`);
  }
  async login(_id: string, username: string, password: string): Promise<Principal> {
    this.calls.push(`login ${username}`);
    if (password !== 'secret') throw smtpReply(535, '5.7.8', 'Authentication credentials invalid');
    return { address: username } as Principal;
  }
  async mailFrom(_id: string, address: string) {
    this.calls.push(`mail ${address}`);
  }
  async rcptTo(_id: string, address: string) {
    this.calls.push(`rcpt ${address}`);
    if (address.startsWith('slow@')) await sleep(50);
    if (address.startsWith('nobody@'))
      throw smtpReply(550, '5.1.1', `<${address}>: Recipient address rejected: no such user here`);
  }
  async data(_id: string, stream: Readable): Promise<string> {
    await this.gate;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream) {
        size += (chunk as Buffer).length;
        if (!this.countOnly) chunks.push(chunk as Buffer);
      }
    } catch (error) {
      this.partialBytes += size;
      throw error;
    }
    this.messages.push(this.countOnly ? `${size} bytes` : Buffer.concat(chunks).toString('latin1'));
    return `2.0.0 Ok: queued as ${this.messages.length}`;
  }
  close() {
    this.calls.push('close');
  }
}

interface Wire {
  port: number;
  intake: ScriptedIntake;
  sessions: Set<SmtpSession>;
  /** Writes the server made to each connection's socket, in order of connection. */
  writes: number[];
  /** Bytes the server read from each connection. */
  received: number[];
  close(): Promise<void>;
}

const pems = selfsigned.generate([{ name: 'commonName', value: 'mx.test.example' }], {
  keySize: 2048,
  days: 1,
  algorithm: 'sha256',
});
const secureContext = createSecureContext({ key: pems.private, cert: pems.cert });

async function startWire(overrides: Partial<SmtpSessionConfig> = {}): Promise<Wire> {
  const intake = new ScriptedIntake();
  const sessions = new Set<SmtpSession>();
  const config: SmtpSessionConfig = {
    source: 'mx',
    implicitTls: false,
    hostname: 'mx.test.example',
    maxMessageSize: 10_000,
    greetingDelayMs: 0,
    idleTimeoutMs: 10_000,
    maxSessionMs: 60_000,
    secureContext,
    ...overrides,
  };
  const writes: number[] = [];
  const received: number[] = [];
  const accept = (socket: Socket) => {
    const index = writes.push(0) - 1;
    received.push(0);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      writes[index]!++;
      return write(...args);
    }) as typeof socket.write;
    socket.on('data', (chunk: Buffer) => (received[index]! += chunk.length));
    // No store behind the scripted intake: a signed-in session here ends long before its first re-check (15 s).
    const signIns = { db: undefined as never, now: Date.now };
    const session = new SmtpSession({ intake, log: silentLogger(), sessions, signIns }, config, socket);
    sessions.add(session);
    void session.start();
  };
  const server: Server = config.implicitTls
    ? createTlsServer({ key: pems.private, cert: pems.cert }, accept)
    : createServer(accept);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    intake,
    sessions,
    writes,
    received,
    close: async () => {
      sessions.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function open(wire: Wire, options: { tls?: boolean } = {}) {
  const { talk, greeting } = await SmtpTalk.open(wire.port, options);
  assert.equal(greeting, '220 mx.test.example ESMTP Holdfast');
  return talk;
}

describe('SMTP wire', () => {
  let wire: Wire;
  before(async () => {
    wire = await startWire();
  });
  after(() => wire.close());

  it('answers pipelined commands in order, in one write, however long each took', async () => {
    const talk = await open(wire);
    const before = wire.writes.at(-1)!;
    talk.write(
      'EHLO client.example\r\nMAIL FROM:<a@remote.example> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<slow@test.example>\r\nRCPT TO:<nobody@test.example>\r\nRCPT TO:<b@test.example>\r\nNOOP\r\n',
    );
    const replies = await talk.replies(6);
    assert.deepEqual(replies.slice(1), [
      '250 2.1.0 Accepted',
      '250 2.1.5 Accepted',
      '550 5.1.1 <nobody@test.example>: Recipient address rejected: no such user here',
      '250 2.1.5 Accepted',
      '250 2.0.0 OK',
    ]);
    assert.equal(
      replies[0],
      [
        'mx.test.example Nice to meet you, [127.0.0.1]',
        'PIPELINING',
        '8BITMIME',
        'SMTPUTF8',
        'ENHANCEDSTATUSCODES',
        'DSN',
        'STARTTLS',
        'SIZE 10000',
        'CHUNKING',
      ]
        .map((line, i, all) => `250${i < all.length - 1 ? '-' : ' '}${line}`)
        .join('\n'),
    );
    assert.equal(wire.writes.at(-1)! - before, 1, 'the six replies went out in one write');
    talk.close();
  });

  it('receives DATA dot-unstuffed; a smuggled end of data (LF.CRLF, LF.LF) is content, not the end', async () => {
    const talk = await open(wire);
    await talk.send('EHLO client.example');
    const smuggled =
      'Subject: smuggle\r\n\r\nhi\n.\r\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<victim@test.example>\r\nDATA\r\n\n.\n..stuffed\r\n';
    talk.write(`MAIL FROM:<a@remote.example>\r\nRCPT TO:<b@test.example>\r\nDATA\r\n`);
    assert.deepEqual(await talk.replies(3), [
      '250 2.1.0 Accepted',
      '250 2.1.5 Accepted',
      '354 End data with <CR><LF>.<CR><LF>',
    ]);
    talk.write(`${smuggled}.\r\nNOOP\r\n`);
    assert.deepEqual(await talk.replies(2), [`250 2.0.0 Ok: queued as ${wire.intake.messages.length}`, '250 2.0.0 OK']);
    assert.equal(
      wire.intake.messages.at(-1),
      'Subject: smuggle\r\n\r\nhi\r\n.\r\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<victim@test.example>\r\nDATA\r\n\r\n.\r\n.stuffed\r\n',
    );
    assert.ok(!wire.intake.calls.includes('mail evil@remote.example'), 'the smuggled commands never ran');
    talk.close();
  });

  it('STARTTLS: plain text pipelined behind it is dropped, and the session starts over in TLS', async () => {
    const talk = await open(wire);
    await talk.send('EHLO client.example');
    // The injection of CVE-2011-0411: a man in the middle appends commands to the client's STARTTLS.
    const reply = await talk.send('STARTTLS\r\nMAIL FROM:<injected@remote.example>\r\nRCPT TO:<victim@test.example>');
    assert.equal(reply, '220 2.0.0 Ready to start TLS');
    await (talk as unknown as { upgradeToTls(): Promise<void> }).upgradeToTls();
    assert.equal(
      await talk.send('MAIL FROM:<a@remote.example>'),
      '503 5.5.1 Error: send HELO/EHLO first',
      'nothing said before TLS counts',
    );
    const ehlo = await talk.send('EHLO client.example');
    assert.doesNotMatch(ehlo, /STARTTLS/);
    assert.equal(await talk.send('RCPT TO:<victim@test.example>'), '503 5.5.1 Error: need MAIL command');
    assert.equal(await talk.send('STARTTLS'), '503 5.5.1 Error: TLS already active');
    assert.ok(
      !wire.intake.calls.some((c) => c.includes('injected') || c.includes('victim')),
      wire.intake.calls.join('; '),
    );
    assert.ok(wire.intake.calls.includes('update {"secure":true}'));
    talk.close();
  });

  it('BDAT: chunks are read as octets, refused ones too; a chunk past the size limit is refused before the rest is sent', async () => {
    const talk = await open(wire);
    await talk.send('EHLO client.example');
    const smuggled = 'MAIL FROM:<x@remote.example>\r\n';
    talk.write(`BDAT ${smuggled.length}\r\n${smuggled}NOOP\r\n`);
    assert.deepEqual(await talk.replies(2), ['503 5.5.1 Error: need RCPT command', '250 2.0.0 OK']);
    await talk.send('MAIL FROM:<a@remote.example>');
    await talk.send('RCPT TO:<b@test.example>');
    const body = '.\r\nQUIT\r\n';
    talk.write(`BDAT ${body.length}\r\n${body}BDAT 0 LAST\r\n`);
    assert.deepEqual(await talk.replies(2), [
      `250 2.0.0 ${body.length} octets received`,
      `250 2.0.0 Ok: queued as ${wire.intake.messages.length}`,
    ]);
    assert.equal(wire.intake.messages.at(-1), body);
    assert.equal(
      await talk.send('RCPT TO:<b@test.example>'),
      '503 5.5.1 Error: need MAIL command',
      'the transaction is over',
    );

    await talk.send('MAIL FROM:<a@remote.example>');
    await talk.send('RCPT TO:<b@test.example>');
    const partial = wire.intake.partialBytes;
    talk.write(`BDAT 6000\r\n${'a'.repeat(6000)}BDAT 6000 LAST\r\n${'b'.repeat(6000)}`);
    assert.deepEqual(await talk.replies(2), [
      '250 2.0.0 6000 octets received',
      '552 5.3.4 Message size exceeds fixed maximum message size (10000 bytes)',
    ]);
    assert.equal(wire.intake.partialBytes - partial, 6000, 'nothing of the refused chunk reached intake');
    assert.equal(await talk.send('NOOP'), '250 2.0.0 OK');
    talk.close();
  });

  it('DATA past the size limit: refused after its end, and intake never got more than the limit', async () => {
    const talk = await open(wire);
    await talk.send('EHLO client.example');
    assert.equal(
      await talk.send('MAIL FROM:<a@remote.example> SIZE=10001'),
      '552 5.3.4 Message size exceeds fixed maximum message size (10000 bytes)',
    );
    await talk.send('MAIL FROM:<a@remote.example>');
    await talk.send('RCPT TO:<b@test.example>');
    const partial = wire.intake.partialBytes;
    assert.equal(
      await talk.data(`${'x'.repeat(98)}\r\n`.repeat(300)),
      '552 5.3.4 Message size exceeds fixed maximum message size (10000 bytes)',
    );
    assert.ok(wire.intake.partialBytes - partial <= 10_000, `intake got ${wire.intake.partialBytes - partial} bytes`);
    assert.equal(await talk.send('MAIL FROM:<a@remote.example>'), '250 2.1.0 Accepted', 'the transaction is over');
    talk.close();
  });

  it('reads no faster than intake stores: a consumer that is not ready pauses the socket', async () => {
    const large = await startWire({ maxMessageSize: 64 * 1024 * 1024 });
    let release!: () => void;
    large.intake.gate = new Promise((resolve) => (release = resolve));
    large.intake.countOnly = true;
    try {
      const talk = await open(large);
      await talk.send('EHLO client.example');
      await talk.send('MAIL FROM:<a@remote.example>');
      await talk.send('RCPT TO:<b@test.example>');
      const size = 32 * 1024 * 1024;
      talk.write(`BDAT ${size} LAST\r\n`);
      const piece = Buffer.alloc(1024 * 1024, 'z');
      for (let i = 0; i < 32; i++) talk.write(piece);
      await sleep(1000);
      // Kernel buffers on both sides hold a few MB; the session holds its 64 KiB and one stream buffer.
      assert.ok(
        large.received[0]! < 8 * 1024 * 1024,
        `the server read ${large.received[0]} bytes while its consumer read none`,
      );
      release();
      assert.equal(await talk.reply(30_000), '250 2.0.0 Ok: queued as 1');
      assert.deepEqual(large.intake.messages, [`${size} bytes`]);
      talk.close();
    } finally {
      release();
      await large.close();
    }
  });

  it('refuses an over-long line without holding it, and an HTTP request outright', async () => {
    const talk = await open(wire);
    assert.equal(await talk.send(`NOOP ${'x'.repeat(100_000)}`), '500 5.5.2 Error: line too long');
    assert.equal(await talk.send('NOOP'), '250 2.0.0 OK');
    assert.equal(await talk.send('WIZ please'), '500 5.5.2 Error: command not recognized');
    // The MX port offers no AUTH, as Postfix words it.
    await talk.send('EHLO client.example');
    assert.equal(await talk.send('AUTH PLAIN'), '503 5.5.1 Error: authentication not enabled');
    assert.equal(await talk.send('GET / HTTP/1.1'), '421 4.4.2 HTTP requests not allowed');
    await talk.reply(); // the close
    assert.ok(talk.isClosed);
  });

  it('closes after ten unrecognized commands', async () => {
    const talk = await open(wire);
    talk.write('XYZZY\r\n'.repeat(10));
    const replies = await talk.replies(10);
    assert.equal(replies[8], '500 5.5.2 Error: command not recognized');
    assert.equal(replies[9], '421 4.4.2 Error: too many unrecognized commands');
  });

  it('shutdown: a waiting session gets 421 4.3.2 at once, one receiving a message finishes it first', async () => {
    const idle = await open(wire);
    const busy = await open(wire);
    await busy.send('EHLO client.example');
    await busy.send('MAIL FROM:<a@remote.example>');
    await busy.send('RCPT TO:<b@test.example>');
    let release!: () => void;
    wire.intake.gate = new Promise((resolve) => (release = resolve));
    assert.match(await busy.send('DATA'), /^354 /);
    busy.write('Subject: last one\r\n\r\nbody\r\n.\r\n');
    await sleep(100);
    wire.sessions.forEach((s) => s.shutdown());
    assert.equal(await idle.reply(), '421 4.3.2 Server shutting down');
    release();
    wire.intake.gate = undefined;
    assert.match(await busy.reply(), /^250 2\.0\.0 Ok: queued as \d+$/);
    assert.equal(await busy.send('NOOP'), '421 4.3.2 Server shutting down');
  });
});

describe('SMTP wire: AUTH on submission over implicit TLS', () => {
  let wire: Wire;
  before(async () => {
    wire = await startWire({ source: 'submission', implicitTls: true });
  });
  after(() => wire.close());

  it('offers PLAIN and LOGIN, runs both exchanges, and refuses mail before AUTH', async () => {
    const talk = await open(wire, { tls: true });
    assert.match(await talk.send('EHLO client.example'), /250-AUTH PLAIN LOGIN\n/);
    assert.equal(await talk.send('MAIL FROM:<alice@test.example>'), '530 5.7.0 Authentication required');
    assert.equal(await talk.send('AUTH CRAM-MD5'), '504 5.5.4 Error: Unrecognized authentication type');
    assert.equal(await talk.send('AUTH PLAIN'), '334 ');
    assert.equal(await talk.send('*'), '501 5.5.4 Authentication aborted');
    assert.equal(await talk.send('AUTH PLAIN not-base64!'), '501 5.5.2 Error: cannot decode the response as base64');
    assert.equal(
      await talk.send(`AUTH PLAIN ${b64('bob@test.example\0alice@test.example\0secret')}`),
      '535 5.7.8 Authentication credentials invalid',
      'no acting as someone else',
    );
    assert.equal(await talk.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await talk.send(b64('alice@test.example')), '334 UGFzc3dvcmQ6');
    assert.equal(await talk.send(b64('wrong')), '535 5.7.8 Authentication credentials invalid');
    assert.equal(await talk.send('AUTH PLAIN'), '334 ');
    assert.equal(await talk.send(plainAuth('alice@test.example', 'secret')), '235 2.7.0 Authentication successful');
    assert.equal(
      await talk.send(`AUTH PLAIN ${plainAuth('alice@test.example', 'secret')}`),
      '503 5.5.1 Error: No identity changes permitted',
    );
    assert.doesNotMatch(await talk.send('EHLO client.example'), /AUTH/);
    assert.equal(await talk.send('MAIL FROM:<alice@test.example>'), '250 2.1.0 Accepted');
    talk.close();
  });

  it('tells a client that tries AUTH before STARTTLS to start TLS first (RFC 3207 4)', async () => {
    const plain = await startWire({ source: 'submission' });
    try {
      const talk = await open(plain);
      assert.doesNotMatch(await talk.send('EHLO client.example'), /AUTH/);
      assert.equal(
        await talk.send(`AUTH PLAIN ${plainAuth('alice@test.example', 'secret')}`),
        '530 5.7.0 Must issue a STARTTLS command first',
      );
      talk.close();
    } finally {
      await plain.close();
    }
  });

  it('closes a session that sends ten commands without signing in', async () => {
    const talk = await open(wire, { tls: true });
    talk.write('NOOP\r\n'.repeat(10));
    const replies = await talk.replies(10);
    assert.equal(replies[9], '421 4.4.2 Error: too many unauthenticated commands');
  });
});

describe('SMTP wire: timeouts and early talkers', () => {
  it('closes an idle session, and any session at its time limit', async () => {
    const wire = await startWire({ idleTimeoutMs: 300, maxSessionMs: 900 });
    // A session that talks every 150 ms must never look idle, however late a loaded machine runs it.
    const patient = await startWire({ idleTimeoutMs: 5000, maxSessionMs: 900 });
    try {
      const idle = await open(wire);
      assert.equal(await idle.reply(), '421 4.4.2 Timeout - closing connection');
      const chatty = await open(patient);
      const started = Date.now();
      let last = '';
      while (!last.startsWith('421') && Date.now() - started < 5000) {
        await sleep(150);
        last = await chatty.send('NOOP');
      }
      assert.equal(last, '421 4.4.2 Session time limit reached - closing connection');
      assert.ok(Date.now() - started >= 700, 'not before the limit');
    } finally {
      await wire.close();
      await patient.close();
    }
  });

  it('refuses a client that talks before the greeting', async () => {
    const wire = await startWire({ greetingDelayMs: 300 });
    try {
      const socket = connect({ host: '127.0.0.1', port: wire.port });
      socket.write('EHLO too.soon.example\r\n');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      await new Promise((resolve) => socket.once('close', resolve));
      assert.equal(text, '421 4.4.2 mx.test.example You talk too soon\r\n');
      assert.ok(!wire.intake.calls.some((c) => c.startsWith('update')), 'its EHLO never ran');
    } finally {
      await wire.close();
    }
  });
});
