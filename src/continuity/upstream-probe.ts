// The probe of a continuity upstream: one SMTP conversation that goes as far as a real delivery's
// envelope and no further — greeting, EHLO, STARTTLS when offered, AUTH when the route has
// credentials, MAIL FROM:<> and RCPT TO the probe recipient, then RSET and QUIT. No message is ever
// sent. What Exchange Online answers when it is in trouble (421 4.3.2 at the greeting, 450 4.4.318
// at RCPT, a TLS failure, silence) shows up here even when no mail is waiting to find it out.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ContinuityUpstream } from '../config/schema.ts';

export interface ProbeResult {
  ok: boolean;
  /** The reply that decided it, or what went wrong ("timeout after 30000 ms at RCPT"). */
  reply: string;
}

/** A reply line longer than this, or a reply of more lines, ends the probe (a server gone wrong). */
const maxLine = 2048;
const maxLines = 64;

export async function probeUpstream(
  upstream: ContinuityUpstream,
  options: { helo: string; timeoutMs: number },
): Promise<ProbeResult> {
  const secure = upstream.url.protocol === 'smtps:';
  const host = upstream.url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(upstream.url.port) || (secure ? 465 : 25);
  const conversation = new Conversation(options.timeoutMs);
  try {
    await conversation.open(host, port, secure);
    let step = 'greeting';
    const expect = async (reply: Reply, ok: (code: number) => boolean): Promise<ProbeResult | undefined> =>
      ok(reply.code) ? undefined : { ok: reply.code >= 500 && step === 'RCPT', reply: `${reply.text} (at ${step})` };
    let failed = await expect(await conversation.read(), (c) => c === 220);
    if (failed) return failed;
    step = 'EHLO';
    let ehlo = await conversation.command(`EHLO ${options.helo}`);
    if ((failed = await expect(ehlo, (c) => c === 250))) return failed;
    if (!secure && /^STARTTLS$/im.test(ehlo.lines.join('\n'))) {
      step = 'STARTTLS';
      if ((failed = await expect(await conversation.command('STARTTLS'), (c) => c === 220))) return failed;
      await conversation.startTls(host);
      step = 'EHLO after STARTTLS';
      ehlo = await conversation.command(`EHLO ${options.helo}`);
      if ((failed = await expect(ehlo, (c) => c === 250))) return failed;
    }
    if (upstream.url.username) {
      step = 'AUTH';
      const user = decodeURIComponent(upstream.url.username);
      const pass = decodeURIComponent(upstream.url.password);
      const token = Buffer.from(`\0${user}\0${pass}`).toString('base64');
      if ((failed = await expect(await conversation.command(`AUTH PLAIN ${token}`), (c) => c === 235))) return failed;
    }
    step = 'MAIL';
    if ((failed = await expect(await conversation.command('MAIL FROM:<>'), (c) => c === 250))) return failed;
    step = 'RCPT';
    const rcpt = await conversation.command(`RCPT TO:<${upstream.probeRecipient}>`);
    // A 5xx for the probe address is an answer (the upstream works; the address is wrong): it
    // counts as up, and the reply shows why. A 4xx is the upstream deferring, as it does to mail.
    if ((failed = await expect(rcpt, (c) => c === 250 || c === 251))) return failed;
    await conversation.command('RSET').catch(() => undefined);
    conversation.send('QUIT');
    return { ok: true, reply: rcpt.text };
  } catch (error) {
    return { ok: false, reply: (error as Error).message };
  } finally {
    conversation.close();
  }
}

interface Reply {
  code: number;
  /** The reply's lines joined, as logs and the incident show it. */
  text: string;
  /** Each line's text after the code. */
  lines: string[];
}

/** One SMTP connection read reply by reply, every wait bounded by the timeout. */
class Conversation {
  private socket?: Socket | TLSSocket;
  private buffer = '';
  private waiting?: () => void;
  private failure?: Error;

  constructor(private readonly timeoutMs: number) {}

  async open(host: string, port: number, secure: boolean) {
    const socket = secure
      ? tlsConnect({ host, port, servername: isIpLiteral(host) ? undefined : host, rejectUnauthorized: false })
      : netConnect({ host, port });
    await this.attach(socket, secure ? 'secureConnect' : 'connect', `connecting to ${host}:${port}`);
  }

  /** STARTTLS: the TLS handshake over the same connection (certificates are not verified, as delivery's). */
  async startTls(host: string) {
    const plain = this.socket!;
    plain.removeAllListeners('data');
    const socket = tlsConnect({
      socket: plain,
      servername: isIpLiteral(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    this.buffer = '';
    await this.attach(socket, 'secureConnect', 'the TLS handshake');
  }

  private attach(socket: Socket | TLSSocket, ready: string, what: string): Promise<void> {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      if (this.buffer.length > maxLine * maxLines) this.fail(new Error('the upstream sent an oversized reply'));
      this.waiting?.();
    });
    socket.on('error', (error) =>
      this.fail(new Error(`${ready === 'secureConnect' && what.includes('TLS') ? 'TLS: ' : ''}${error.message}`)),
    );
    socket.on('close', () => this.fail(new Error('the upstream closed the connection')));
    return this.bounded(
      new Promise<void>((resolve, reject) => {
        socket.once(ready, () => resolve());
        socket.once('error', reject);
      }),
      what,
    );
  }

  private fail(error: Error) {
    this.failure ??= error;
    this.waiting?.();
  }

  send(line: string) {
    this.socket?.write(`${line}\r\n`);
  }

  async command(line: string): Promise<Reply> {
    this.send(line);
    return this.read(line.split(' ')[0]!);
  }

  /** The next complete reply (all its lines). */
  read(after = 'the greeting'): Promise<Reply> {
    return this.bounded(
      new Promise<Reply>((resolve, reject) => {
        const check = () => {
          const reply = this.take();
          if (reply) {
            this.waiting = undefined;
            resolve(reply);
          } else if (this.failure) {
            this.waiting = undefined;
            reject(this.failure);
          }
        };
        this.waiting = check;
        check();
      }),
      `waiting for the reply to ${after}`,
    );
  }

  private take(): Reply | undefined {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n', offset);
      if (end < 0) {
        if (this.buffer.length - offset > maxLine) this.fail(new Error('the upstream sent an overlong line'));
        return undefined;
      }
      const line = this.buffer.slice(offset, end).replace(/\r$/, '');
      offset = end + 1;
      lines.push(line);
      if (!/^\d{3}-/.test(line) || lines.length >= maxLines) {
        this.buffer = this.buffer.slice(offset);
        const code = /^\d{3}/.test(line) ? Number(line.slice(0, 3)) : 0;
        return { code, text: lines.join(' / '), lines: lines.map((l) => l.slice(4)) };
      }
    }
  }

  private async bounded<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timeout after ${this.timeoutMs} ms ${what}`)), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  close() {
    this.waiting = undefined;
    this.socket?.destroy();
  }
}

const isIpLiteral = (host: string) => /^[\d.]+$/.test(host) || host.includes(':');
